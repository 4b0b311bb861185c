/** Tables for the terminal (aligned columns), Markdown, and the number formats every experiments view shares. */

export type TableFormat = 'terminal' | 'md';

export function renderTable(headers: string[], rows: string[][], format: TableFormat): string {
  if (format === 'md') {
    const escape = (cell: string) => cell.replace(/\|/g, '\\|');
    const line = (cells: string[]) => `| ${cells.map(escape).join(' | ')} |`;
    return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // Text left-aligned, numbers right-aligned: columns of figures read down by digit.
  const numeric = headers.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.]+(e[-+]?\d+)?%?$|^—$/.test(r[i] ?? '')),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Up to 6 significant digits, no trailing zeros; `—` for absent. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '—';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export function formatDelta(delta: number | undefined): string {
  if (delta === undefined) return '—';
  const text = formatValue(delta);
  return delta > 0 ? `+${text}` : text;
}

export function formatPercent(before: number | undefined, after: number | undefined): string {
  if (before === undefined || after === undefined || before === 0) return '—';
  const percent = ((after - before) / Math.abs(before)) * 100;
  return `${percent > 0 ? '+' : ''}${percent.toFixed(1)}%`;
}

/** `--metric` patterns: an exact name, a prefix (`predict` = every `predict.…`), or a `*` wildcard. */
export function metricMatcher(patterns: string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => true;
  const tests = patterns.map((pattern) => {
    if (pattern.includes('*')) {
      const regex = new RegExp(
        `^${pattern
          .split('*')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      );
      return (name: string) => regex.test(name);
    }
    return (name: string) => name === pattern || name.startsWith(`${pattern}.`);
  });
  return (name) => tests.some((test) => test(name));
}
