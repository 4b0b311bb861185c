import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CsvError, formatCsv, parseCsv, readCsv, writeCsv } from '../../../stages/lib/data/csv.ts';
import { tempDir } from './helpers.ts';

test('CSV round-trips commas, quotes, newlines and edge spaces', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const rows = [
      ['plain', 'with,comma', 'say "hi"'],
      ['multi\nline', ' padded ', ''],
      ['../shared/a b/cat.1.jpg', '1', 'x'],
    ];
    const file = path.join(dir, 't.csv');
    await writeCsv(file, ['a', 'b', 'c'], rows);
    const text = await readFile(file, 'utf8');
    assert.ok(text.includes('"with,comma"'));
    assert.ok(text.includes('"say ""hi"""'));
    assert.ok(text.endsWith('\n'));
    const table = await readCsv(file, ['a', 'c']);
    assert.deepEqual(table.header, ['a', 'b', 'c']);
    assert.deepEqual(
      table.records.map((r) => [r['a'], r['b'], r['c']]),
      rows,
    );
  } finally {
    await cleanup();
  }
});

test('numbers are written as they print and unquoted', () => {
  assert.equal(
    formatCsv([
      ['id', 'label'],
      [1, 0.25],
      [2, 1e-7],
    ]),
    'id,label\n1,0.25\n2,1e-7\n',
  );
});

test('parseCsv accepts CRLF, a BOM and a missing final newline', () => {
  assert.deepEqual(parseCsv('\ufeffid,label\r\n1,0\r\n2,1'), [
    ['id', 'label'],
    ['1', '0'],
    ['2', '1'],
  ]);
  assert.deepEqual(parseCsv('a,b\n"x\r\ny",z\n'), [
    ['a', 'b'],
    ['x\r\ny', 'z'],
  ]);
});

test('malformed CSV gives errors that say where', async () => {
  assert.throws(
    () => parseCsv('a,b\n"open,1\n'),
    (e: unknown) => e instanceof CsvError && /not closed/.test(e.message),
  );
  assert.throws(() => parseCsv('a,b\n"x"y,1\n'), /line 2.*after a closing quote/);
  assert.throws(() => parseCsv('a,b\nab"c,1\n'), /line 2.*quote inside an unquoted field/);
  const { dir, cleanup } = await tempDir();
  try {
    const file = path.join(dir, 'bad.csv');
    await writeFile(file, 'id,label\n1,0\n2\n');
    await assert.rejects(readCsv(file), /data row 2 has 1 fields, the header has 2/);
    await writeFile(file, 'id,score\n1,0\n');
    await assert.rejects(readCsv(file, ['id', 'label']), /missing column\(s\) label/);
    await writeFile(file, '');
    await assert.rejects(readCsv(file), /empty CSV/);
  } finally {
    await cleanup();
  }
});
