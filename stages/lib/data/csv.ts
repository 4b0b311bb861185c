/**
 * A small RFC 4180 CSV reader/writer: comma separated, `"` quoting with `""`
 * escapes, quoted fields may hold commas and newlines. Writes `\n` line ends;
 * reads `\n` or `\r\n` and ignores a UTF-8 byte-order mark.
 */
import { readFile, writeFile } from 'node:fs/promises';

export type CsvCell = string | number | boolean;

export class CsvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvError';
  }
}

/** Parse CSV text into rows of fields. A trailing newline does not make an empty row. */
export function parseCsv(text: string, source = 'CSV'): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let fieldStarted = false;
  const endRow = () => {
    row.push(field);
    rows.push(row);
    row = [];
    field = '';
    fieldStarted = false;
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          const next = text[i + 1];
          if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
            throw new CsvError(
              `${source}: line ${line}: unexpected character ${JSON.stringify(next)} after a closing quote`,
            );
          }
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"') {
      if (field.length > 0)
        throw new CsvError(
          `${source}: line ${line}: a quote inside an unquoted field (quote the whole field and double the quote)`,
        );
      quoted = true;
      fieldStarted = true;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      // handled by the '\n' that follows
    } else if (ch === '\n') {
      endRow();
      line++;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (quoted) throw new CsvError(`${source}: line ${line}: a quoted field is not closed before the end of the file`);
  if (fieldStarted || row.length > 0) endRow();
  return rows;
}

function formatCell(cell: CsvCell): string {
  const text = typeof cell === 'string' ? cell : String(cell);
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Format rows as CSV text, one `\n`-terminated line per row. */
export function formatCsv(rows: readonly (readonly CsvCell[])[]): string {
  let out = '';
  for (const row of rows) out += row.map(formatCell).join(',') + '\n';
  return out;
}

/** A CSV file read as a header and one record (header → value) per line. */
export interface CsvTable {
  header: string[];
  records: Record<string, string>[];
}

/**
 * Read a CSV file with a header line. Blank lines are skipped; a row whose
 * field count differs from the header's is an error naming the line.
 * With `required`, columns missing from the header are an error too.
 */
export async function readCsv(path: string, required: readonly string[] = []): Promise<CsvTable> {
  const rows = parseCsv(await readFile(path, 'utf8'), path).filter((r) => !(r.length === 1 && r[0] === ''));
  if (rows.length === 0) throw new CsvError(`${path}: empty CSV file (expected a header line)`);
  const header = rows[0].map((h) => h.trim());
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new CsvError(`${path}: missing column(s) ${missing.join(', ')} (header is: ${header.join(',')})`);
  }
  const records = rows.slice(1).map((row, k) => {
    if (row.length !== header.length) {
      throw new CsvError(`${path}: data row ${k + 1} has ${row.length} fields, the header has ${header.length}`);
    }
    const record: Record<string, string> = {};
    header.forEach((name, c) => (record[name] = row[c]!));
    return record;
  });
  return { header, records };
}

/** Write a header and rows as a CSV file. */
export async function writeCsv(
  path: string,
  header: readonly string[],
  rows: readonly (readonly CsvCell[])[],
): Promise<void> {
  for (const [k, row] of rows.entries()) {
    if (row.length !== header.length) {
      throw new CsvError(`${path}: row ${k + 1} has ${row.length} fields, the header has ${header.length}`);
    }
  }
  await writeFile(path, formatCsv([header, ...rows]));
}
