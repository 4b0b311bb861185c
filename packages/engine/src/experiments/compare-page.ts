/**
 * The comparison page: one self-contained HTML file (inline CSS and SVG, no
 * scripts, nothing fetched) with the runs table, the chosen metric against
 * the swept param, and the declared plots (training curves) of every run
 * overlaid.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RunCache } from '../cache/run-cache.ts';
import { PathHasher } from '../fingerprint/path-hasher.ts';
import { StateStore } from '../fingerprint/state-store.ts';
import { canonicalJson } from '../fingerprint/canonical-json.ts';
import { flattenParams, readTextIfPresent } from './metric-values.ts';
import type { PlotRecord, RunRecord } from './run-record.ts';
import { escapeHtml, legend, lineChart, type Series } from './svg-chart.ts';
import { formatValue } from './text-table.ts';

export interface ComparePageInput {
  title: string;
  /** In the order the table shows them (best first for a sorted sweep). */
  records: RunRecord[];
  /** Params to plot the metric against (a sweep's keys); default: the params that differ between the runs. */
  swept?: string[];
  metric?: string;
  maximize?: boolean;
  /** The text of a plot file as that run left it (from the run cache), or undefined. */
  plotText: (plot: PlotRecord) => string | undefined;
}

function runParams(record: RunRecord): Record<string, unknown> {
  return flattenParams(
    Object.assign({}, ...Object.values(record.stages).map((s) => s.params)) as Record<string, unknown>,
  );
}

function varying(rows: Record<string, unknown>[], keys: string[]): string[] {
  return keys.filter((key) => new Set(rows.map((r) => canonicalJson(r[key] ?? null))).size > 1);
}

/** `epoch,loss,…` CSV → columns of numbers (non-numeric cells become NaN and are not drawn). */
export function parseSeriesCsv(text: string): { columns: string[]; rows: number[][] } {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const columns = (lines[0] ?? '').split(',').map((c) => c.trim());
  return { columns, rows: lines.slice(1).map((line) => line.split(',').map((cell) => Number(cell))) };
}

export function comparePageHtml(input: ComparePageInput): string {
  const { records } = input;
  const params = records.map(runParams);
  const allKeys = [...new Set(params.flatMap((p) => Object.keys(p)))].sort();
  const swept = input.swept?.length ? input.swept : varying(params, allKeys);
  const metricNames = [...new Set(records.flatMap((r) => Object.keys(r.metrics)))].sort();
  // The chosen metric, then the top-level ones (`stage.key`) that differ: a table that fits a screen.
  const topLevel = varying(
    records.map((r) => r.metrics),
    metricNames,
  ).filter((name) => name.split('.').length === 2);
  const shownMetrics = [...new Set([...(input.metric ? [input.metric] : []), ...topLevel])].slice(0, 4);
  const label = (record: RunRecord, i: number) =>
    `${record.sweep ? record.sweep.variant : record.id} (${swept.map((k) => `${k}=${formatValue(params[i][k])}`).join(', ') || record.id})`;

  const failedStage = (r: RunRecord) => Object.entries(r.stages).find(([, s]) => s.action === 'failed');
  const header = ['run', ...swept, ...shownMetrics, 'status'].map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = records
    .map((r, i) => {
      const failed = failedStage(r);
      const status = failed
        ? `failed: ${failed[0]}`
        : Object.values(r.stages).some((s) => s.action === 'not-run')
          ? 'incomplete'
          : 'ok';
      const cells = [
        r.sweep ? `<span title="run ${escapeHtml(r.id)}">${escapeHtml(r.sweep.variant)}</span>` : escapeHtml(r.id),
        ...swept.map((k) => escapeHtml(formatValue(params[i][k]))),
        ...shownMetrics.map((m) => escapeHtml(formatValue(r.metrics[m]))),
        escapeHtml(status),
      ];
      return `<tr${failed ? ' class="failed"' : ''}>${cells.map((c, j) => `<td${j > 0 && j <= swept.length + shownMetrics.length ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`;
    })
    .join('\n');

  const sections: string[] = [];
  const metric = input.metric ?? shownMetrics[0];
  const x = swept[0];
  if (metric && x && records.every((_, i) => typeof params[i][x] === 'number')) {
    const others = swept.slice(1);
    const groups = new Map<string, Array<[number, number]>>();
    records.forEach((r, i) => {
      const key = others.map((k) => `${k}=${formatValue(params[i][k])}`).join(', ') || metric;
      const value = r.metrics[metric];
      if (value !== undefined) groups.set(key, [...(groups.get(key) ?? []), [params[i][x] as number, value]]);
    });
    const series: Series[] = [...groups].map(([name, points]) => ({ name, points }));
    const xs = records.map((_, i) => params[i][x] as number);
    const logX = Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) >= 10;
    sections.push(
      `<h2>${escapeHtml(metric)} against ${escapeHtml(x)}</h2>${lineChart({ title: `${metric} (${input.maximize ? 'higher' : 'lower'} is better)`, xLabel: x, yLabel: metric, series, logX })}${legend(series.map((s) => s.name))}`,
    );
  }

  const plotPaths = [...new Set(records.flatMap((r) => r.plots.map((p) => p.path)))];
  for (const path of plotPaths) {
    const perRun = records.map((r, i) => {
      const plot = r.plots.find((p) => p.path === path);
      const text = plot ? input.plotText(plot) : undefined;
      return { name: label(r, i), table: text === undefined ? undefined : parseSeriesCsv(text) };
    });
    const columns = [...new Set(perRun.flatMap((p) => p.table?.columns.slice(1) ?? []))];
    const xName = perRun.find((p) => p.table)?.table?.columns[0] ?? 'x';
    const charts = columns.map((column) => {
      const series = perRun.map((p) => {
        const c = p.table?.columns.indexOf(column) ?? -1;
        return {
          name: p.name,
          points: c < 0 || !p.table ? [] : p.table.rows.map((row): [number, number] => [row[0], row[c]]),
        };
      });
      return lineChart({ title: column, xLabel: xName, yLabel: column, series });
    });
    if (charts.length)
      sections.push(
        `<h2>${escapeHtml(path)}</h2>${legend(perRun.map((p) => p.name))}<div class="charts">${charts.join('\n')}</div>`,
      );
  }

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(input.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 12px 0 24px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { color: #b00; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 16px; }
.legend span { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; }
</style>
</head>
<body>
<h1>${escapeHtml(input.title)}</h1>
<p>${records.length} run${records.length === 1 ? '' : 's'}${input.metric ? `, sorted by ${escapeHtml(input.metric)} (${input.maximize ? 'largest' : 'smallest'} first)` : ''}.</p>
<table>
<thead><tr>${header}</tr></thead>
<tbody>
${body}
</tbody>
</table>
${sections.join('\n')}
</body>
</html>
`;
}

/** Plot files as recorded runs left them: their content is in the run cache under the recorded hash. */
export function cachedPlotReader(projectRoot: string): (plot: PlotRecord) => string | undefined {
  const cache = new RunCache(
    join(projectRoot, '.pipeline', 'cache'),
    new PathHasher(StateStore.load(join(projectRoot, '.pipeline', 'state.json'))),
  );
  return (plot) => readTextIfPresent(cache.objectPath(plot.hash));
}

export function writeComparePage(file: string, input: ComparePageInput): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, comparePageHtml(input));
}
