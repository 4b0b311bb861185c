/** Row-wise differences between two snapshots, as `metrics diff` and `params diff` print them. */
import { canonicalJson } from '../fingerprint/canonical-json.ts';
import type { Snapshot } from './snapshot.ts';
import { formatDelta, formatPercent, formatValue, renderTable, type TableFormat } from './text-table.ts';

export interface MetricDiffRow {
  metric: string;
  old?: number;
  new?: number;
  change?: number;
  percent?: number;
}

export interface ParamDiffRow {
  param: string;
  old?: unknown;
  new?: unknown;
}

/** Metrics in either snapshot that `include` selects; unchanged ones only with `all`. */
export function diffMetrics(
  a: Snapshot,
  b: Snapshot,
  include: (name: string) => boolean,
  all: boolean,
): MetricDiffRow[] {
  const names = [...new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])].filter(include).sort();
  const rows: MetricDiffRow[] = [];
  for (const metric of names) {
    const before = a.metrics[metric];
    const after = b.metrics[metric];
    if (!all && before === after) continue;
    const row: MetricDiffRow = { metric, old: before, new: after };
    if (before !== undefined && after !== undefined) {
      row.change = Number((after - before).toPrecision(12));
      if (before !== 0) row.percent = Number((((after - before) / Math.abs(before)) * 100).toFixed(4));
    }
    rows.push(row);
  }
  return rows;
}

/** Params whose values differ (by value, not by spelling); all of them with `all`. */
export function diffParams(a: Snapshot, b: Snapshot, all: boolean): ParamDiffRow[] {
  const keys = [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])].sort();
  const same = (x: unknown, y: unknown) => x !== undefined && y !== undefined && canonicalJson(x) === canonicalJson(y);
  return keys
    .filter((k) => all || !same(a.params[k], b.params[k]))
    .map((param) => ({ param, old: a.params[param], new: b.params[param] }));
}

export function renderMetricDiff(a: Snapshot, b: Snapshot, rows: MetricDiffRow[], format: TableFormat): string {
  if (rows.length === 0) return `no metric changed between ${a.label} and ${b.label}`;
  return renderTable(
    ['metric', a.label, b.label, 'change', '%'],
    rows.map((r) => [
      r.metric,
      formatValue(r.old),
      formatValue(r.new),
      formatDelta(r.change),
      formatPercent(r.old, r.new),
    ]),
    format,
  );
}

export function renderParamDiff(a: Snapshot, b: Snapshot, rows: ParamDiffRow[], format: TableFormat): string {
  if (rows.length === 0) return `no param changed between ${a.label} and ${b.label}`;
  return renderTable(
    ['param', a.label, b.label],
    rows.map((r) => [r.param, formatValue(r.old), formatValue(r.new)]),
    format,
  );
}
