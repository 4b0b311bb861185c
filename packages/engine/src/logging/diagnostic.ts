/**
 * Prints diagnostics the way compilers do:
 *
 *   pipeline.yaml:12:5: unknown key "dep" in stage "train"
 *      12 |     dep: [artifacts/split]
 *         |     ^~~
 *   hint: did you mean "deps"?
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Diagnostic } from '../errors.ts';

export interface FormatOptions {
  /** Paths are shown relative to this folder (default: the current working directory). */
  cwd?: string;
  /** Source text per absolute file path; files not given are read from disk. */
  sources?: Map<string, string>;
  /** ANSI colours (default: off). */
  color?: boolean;
}

const ansi = {
  red: (s: string) => `\u001b[31m${s}\u001b[39m`,
  yellow: (s: string) => `\u001b[33m${s}\u001b[39m`,
  cyan: (s: string) => `\u001b[36m${s}\u001b[39m`,
  bold: (s: string) => `\u001b[1m${s}\u001b[22m`,
  dim: (s: string) => `\u001b[2m${s}\u001b[22m`,
};
const plain = { red: id, yellow: id, cyan: id, bold: id, dim: id };
function id(s: string): string {
  return s;
}

/** One diagnostic as lines of text (no trailing newline). */
export function formatDiagnostic(d: Diagnostic, options: FormatOptions = {}): string {
  const paint = options.color ? ansi : plain;
  const lines: string[] = [];
  const severity = d.severity === 'error' ? paint.red('error') : paint.yellow('warning');
  if (d.span) {
    const shown = displayPath(d.span.file, options.cwd);
    // An error needs no word (the count line says it); a warning must not read like one.
    lines.push(
      `${paint.bold(`${shown}:${d.span.line}:${d.span.col}`)}: ${d.severity === 'warning' ? `${severity}: ` : ''}${d.message}`,
    );
    const sourceLine = lineOf(d.span.file, d.span.line, options.sources);
    if (sourceLine !== undefined) {
      const gutter = String(d.span.line);
      const pad = ' '.repeat(gutter.length);
      const visible = sourceLine.replace(/\t/g, ' ');
      const start = Math.min(d.span.col - 1, visible.length);
      const length = Math.max(1, Math.min(d.span.length, visible.length - start));
      lines.push(`${paint.dim(`${gutter} |`)} ${visible}`);
      const underline = d.severity === 'error' ? paint.red : paint.yellow;
      lines.push(`${paint.dim(`${pad} |`)} ${' '.repeat(start)}${underline('^' + '~'.repeat(length - 1))}`);
    }
  } else {
    lines.push(`${severity}: ${d.message}`);
  }
  if (d.hint) lines.push(`${paint.cyan('hint')}: ${d.hint}`);
  return lines.join('\n');
}

/** All diagnostics, separated by blank lines, followed by a count line. */
export function formatDiagnostics(diagnostics: readonly Diagnostic[], options: FormatOptions = {}): string {
  const sources = options.sources ?? new Map<string, string>();
  const body = diagnostics.map((d) => formatDiagnostic(d, { ...options, sources })).join('\n\n');
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const counts = [errors ? plural(errors, 'error') : '', warnings ? plural(warnings, 'warning') : '']
    .filter(Boolean)
    .join(', ');
  return counts ? `${body}\n\n${counts}` : body;
}

/** Diagnostics as plain JSON objects (for `--json`). */
export function diagnosticsToJson(diagnostics: readonly Diagnostic[], cwd = process.cwd()): object[] {
  return diagnostics.map((d) => ({
    severity: d.severity,
    reason: d.reason,
    message: d.message,
    ...(d.span
      ? { file: displayPath(d.span.file, cwd), line: d.span.line, col: d.span.col, length: d.span.length }
      : {}),
    ...(d.hint ? { hint: d.hint } : {}),
  }));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function displayPath(file: string, cwd = process.cwd()): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

function lineOf(file: string, line: number, sources?: Map<string, string>): string | undefined {
  let text = sources?.get(file);
  if (text === undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    sources?.set(file, text);
  }
  return text.split(/\r?\n/)[line - 1];
}
