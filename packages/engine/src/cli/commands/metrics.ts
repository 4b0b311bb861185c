/** `pipeline metrics show|diff`: metric values of the workspace and of recorded runs. */
import { listRuns, runFigures, type RunRecord } from '../../experiments/run-record.ts';
import { defaultBaseline, resolveSnapshot, workspaceSnapshot, type Snapshot } from '../../experiments/snapshot.ts';
import { diffMetrics, renderMetricDiff } from '../../experiments/snapshot-diff.ts';
import { flattenParams } from '../../experiments/metric-values.ts';
import { formatValue, metricMatcher, renderTable, type TableFormat } from '../../experiments/text-table.ts';
import { canonicalJson } from '../../fingerprint/canonical-json.ts';
import { openProject } from '../../execution/project-session.ts';
import type { Workspace } from '../../execution/workspace.ts';
import { parseOptions, printDiagnostics } from '../options.ts';

const usage = `Usage: pipeline metrics show [--runs N] [options]
       pipeline metrics diff [A] [B] [options]

show         the metric values in the workspace (the stages' declared metrics files now);
             with --runs N, the last N recorded runs as rows: only the params that differ
             between them, and the metrics chosen with --metric (default: those that differ);
             --metric also picks the figures stages report about their runs (timings,
             rates: features.imagesPerSecond), which the outs never hold
diff [A] [B] values, change and % change from A to B. A and B are "workspace", a run id
             (or a unique prefix; see \`metrics show --runs\`), or a git revision, whose
             pipeline.lock is read and its metrics taken from the run cache.
             Default A: HEAD's committed pipeline.lock, or without one the run before the
             latest; default B: workspace. Only metrics that changed, unless --all.

  --metric <name>     metrics to show: a name (predict.log_loss), a stage (predict) or a
                      pattern (*.val_loss); repeatable
  --runs <N>          show: the last N runs
  --all               diff: also unchanged metrics
  --md                Markdown table`;

export default async function metrics(argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage,
    allowPositionals: true,
    options: {
      metric: { type: 'string', multiple: true },
      runs: { type: 'string' },
      all: { type: 'boolean' },
      md: { type: 'boolean' },
    },
  });
  if (!options.ok) return options.exitCode;
  const [sub, ...refs] = options.positionals;
  if (sub !== 'show' && sub !== 'diff') {
    process.stderr.write(
      `error: ${sub === undefined ? 'missing' : `unknown`} subcommand${sub ? ` "${sub}"` : ''}: use \`pipeline metrics show\` or \`pipeline metrics diff\`\n`,
    );
    return 2;
  }
  const opened = await openRecords(options.file, options.set);
  if (!opened) return 1;
  const { workspace, runs } = opened;
  const include = metricMatcher((options.values.metric as string[] | undefined) ?? []);
  const format: TableFormat = options.values.md ? 'md' : 'terminal';

  if (sub === 'show') {
    if (refs.length > 0) return usageError(`metrics show takes no run ids (got ${refs.join(' ')}); use metrics diff`);
    if (options.values.runs === undefined) return showWorkspace(workspace, include, format, options.json);
    const count = Number(options.values.runs);
    if (!Number.isInteger(count) || count < 1)
      return usageError(`--runs takes a whole number ≥ 1, got "${String(options.values.runs)}"`);
    return showRuns(
      runs.slice(-count),
      include,
      (options.values.metric as string[] | undefined)?.length ? 'chosen' : 'varying',
      format,
      options.json,
    );
  }

  if (refs.length > 2) return usageError(`metrics diff takes at most two runs, got ${refs.length}`);
  const sides = await diffSides(workspace, runs, refs);
  if (!sides.ok) {
    process.stderr.write(`error: ${sides.error}\n`);
    return 1;
  }
  const [a, b] = sides.snapshots;
  for (const note of [...(a.notes ?? []), ...(b.notes ?? [])]) process.stderr.write(`note: ${note}\n`);
  const rows = diffMetrics(a, b, include, options.values.all === true);
  if (options.json) process.stdout.write(`${JSON.stringify({ a: a.label, b: b.label, metrics: rows }, null, 2)}\n`);
  else process.stdout.write(`${renderMetricDiff(a, b, rows, format)}\n`);
  return 0;
}

/** The project's workspace and its recorded runs, or undefined once the problems are printed. */
export async function openRecords(
  file: string,
  set: string[],
): Promise<{ workspace: Workspace; runs: RunRecord[] } | undefined> {
  const opened = await openProject(file, set, []);
  if (!opened.ok) {
    printDiagnostics(opened.diagnostics);
    return undefined;
  }
  const { workspace } = opened.session;
  return { workspace, runs: listRuns(workspace.dotDir) };
}

function usageError(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return 2;
}

/** The two snapshots a diff compares, from zero, one or two references. */
export async function diffSides(
  workspace: Workspace,
  runs: RunRecord[],
  refs: string[],
): Promise<{ ok: true; snapshots: [Snapshot, Snapshot] } | { ok: false; error: string }> {
  const a =
    refs[0] === undefined ? await defaultBaseline(workspace, runs) : await resolveSnapshot(workspace, runs, refs[0]);
  if (!a.ok) return a;
  const b =
    refs[1] === undefined
      ? { ok: true as const, snapshot: workspaceSnapshot(workspace) }
      : await resolveSnapshot(workspace, runs, refs[1]);
  if (!b.ok) return b;
  return { ok: true, snapshots: [a.snapshot, b.snapshot] };
}

function showWorkspace(
  workspace: Workspace,
  include: (name: string) => boolean,
  format: TableFormat,
  json: boolean,
): number {
  const values = Object.entries(workspaceSnapshot(workspace).metrics).filter(([name]) => include(name));
  if (json) process.stdout.write(`${JSON.stringify(Object.fromEntries(values), null, 2)}\n`);
  else if (values.length === 0)
    process.stdout.write(
      'no metrics: no stage declares metrics:, or their files are not there yet (run the pipeline)\n',
    );
  else
    process.stdout.write(
      `${renderTable(
        ['metric', 'value'],
        values.map(([name, value]) => [name, formatValue(value)]),
        format,
      )}\n`,
    );
  return 0;
}

/** Runs as rows; columns: the params that differ among them, then the metrics. */
function showRuns(
  runs: RunRecord[],
  include: (name: string) => boolean,
  pick: 'chosen' | 'varying',
  format: TableFormat,
  json: boolean,
): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    return 0;
  }
  if (runs.length === 0) {
    process.stdout.write('no recorded runs yet: every `pipeline run` records one\n');
    return 0;
  }
  const params = runs.map((r) =>
    flattenParams(Object.assign({}, ...Object.values(r.stages).map((s) => s.params)) as Record<string, unknown>),
  );
  const paramKeys = varyingKeys(params);
  const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].filter(include).sort();
  // Figures (timings, rates) differ in every run: shown only when --metric asks for them; a metric of the same name wins.
  const figures = runs.map(runFigures);
  const figureNames = [...new Set(figures.flatMap((f) => Object.keys(f)))]
    .filter((name) => include(name) && !metricNames.includes(name))
    .sort();
  const metricKeys =
    pick === 'chosen'
      ? [...metricNames, ...figureNames]
      : varyingKeys(
          runs.map((r) => r.metrics),
          metricNames,
        );
  const headers = ['run', 'git', 'stages', ...paramKeys, ...metricKeys];
  const rows = runs.map((run, i) => [
    run.sweep ? `${run.id} (${run.sweep.variant})` : run.id,
    run.git ? `${run.git.commit.slice(0, 7)}${run.git.dirty ? '*' : ''}` : '—',
    stageSummary(run),
    ...paramKeys.map((k) => formatValue(params[i][k])),
    ...metricKeys.map((k) => formatValue(run.metrics[k] ?? figures[i][k])),
  ]);
  process.stdout.write(`${renderTable(headers, rows, format)}\n`);
  if (format === 'terminal' && metricKeys.length < metricNames.length)
    process.stdout.write(
      `(${metricNames.length - metricKeys.length} metrics equal in every run are not shown; --metric NAME to choose)\n`,
    );
  if (format === 'terminal' && pick === 'varying' && figureNames.length > 0)
    process.stdout.write(
      `(figures the stages reported about their runs, such as ${figureNames[0]}, are shown with --metric NAME)\n`,
    );
  return 0;
}

/** Keys whose value is not the same in every row (all `candidates` when given, else every key seen). */
function varyingKeys(rows: Record<string, unknown>[], candidates?: string[]): string[] {
  const keys = candidates ?? [...new Set(rows.flatMap((r) => Object.keys(r)))].sort();
  return keys.filter((key) => new Set(rows.map((r) => (r[key] === undefined ? '∅' : canonicalJson(r[key])))).size > 1);
}

function stageSummary(run: RunRecord): string {
  const counts = new Map<string, number>();
  for (const stage of Object.values(run.stages)) counts.set(stage.action, (counts.get(stage.action) ?? 0) + 1);
  return [...counts].map(([action, n]) => `${n} ${action}`).join(', ');
}
