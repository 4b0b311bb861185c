/**
 * One `pipeline sweep`: the declared sweep and the `--set` lists become a grid,
 * every variant is loaded and validated before anything runs, then, inside a
 * RunSession, the variants run (sweep-run.ts); afterwards they are ranked, the
 * comparison page and sweep.json are written, and `--apply best` writes the
 * winner into pipeline.yaml. cli/commands/sweep.ts parses the flags and prints
 * what this returns; progress lines go to the stream it hands over.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { didYouMean } from '../config/did-you-mean.ts';
import { loadPipeline } from '../config/load.ts';
import type { SweepDeclaration } from '../config/pipeline.ts';
import type { Diagnostic } from '../errors.ts';
import { describeFailure } from '../execution/stage-failure.ts';
import { RunSession } from '../execution/run-session.ts';
import { newRunId } from '../execution/run-stages.ts';
import { loadGraph } from '../graph/load-graph.ts';
import { cachedPlotReader, writeComparePage } from './compare-page.ts';
import { setParamValues } from './param-edit.ts';
import { sweepGrid, type SweepEntry } from './sweep-grid.ts';
import type { RemoteStore } from '../cache/remote-store.ts';
import { runSweep, type LoadedVariant, type VariantOutcome } from './sweep-run.ts';

export interface SweepRequest {
  /** Absolute path of pipeline.yaml. */
  file: string;
  /** A sweep of pipeline.yaml's `sweeps:` block; its lists, metric and jobs are the defaults below. */
  name?: string;
  /** The `--set key=v1,v2` lists: they replace a declared list of the same key, new keys are added. */
  set: SweepEntry[];
  jobs?: number;
  metric?: string;
  /** Best is the largest metric value (else the declared sweep's choice, else the smallest). */
  maximize: boolean;
  /** Write the best variant's values into pipeline.yaml. */
  applyBest: boolean;
  /** Where the sweep's progress lines go. */
  out: NodeJS.WritableStream;
  /** What was cleared up after a killed run. */
  note: (message: string) => void;
  /** The first Ctrl-C or SIGTERM. */
  interrupted: (signal: NodeJS.Signals) => void;
  /** The remote cache the variants share, if any. */
  remote?: RemoteStore;
}

/** Why a sweep did not run; `usage` is a mistake on the command line. */
export type SweepRefusal =
  | { ok: false; problem: 'usage'; message: string }
  | { ok: false; problem: 'error'; message: string; hint?: string }
  | { ok: false; problem: 'diagnostics'; diagnostics: Diagnostic[]; variant?: string };

/** One variant's row, as sweep.json, `--json` and the table show it. */
export interface VariantSummary {
  variant: string;
  params: Record<string, string>;
  /** `ok`, `interrupted` or `failed: <stage> (<why>)`. */
  status: string;
  metrics: Record<string, number>;
  run: string;
  /** The variant's folder, relative to the project root. */
  folder: string;
}

export interface SweepReport {
  ok: true;
  id: string;
  /** The declared sweep's name, when one ran. */
  name?: string;
  /** The swept keys with their values, in grid order. */
  swept: SweepEntry[];
  metric?: string;
  seconds: number;
  /** Best first when there is a metric (variants without it last), else in grid order. */
  ranked: Array<{ outcome: VariantOutcome; summary: VariantSummary }>;
  /** The comparison page. */
  page: string;
  interruptedBy?: NodeJS.Signals;
  /** What `--apply best` did: the values it wrote, or why pipeline.yaml was left as it was. */
  applied?: { ok: true; variant: string; values: Array<[string, string]> } | { ok: false; message: string };
}

export async function executeSweep(request: SweepRequest): Promise<SweepReport | SweepRefusal> {
  let declared: SweepDeclaration | undefined;
  if (request.name !== undefined) {
    const found = await declaredSweep(request.file, request.name);
    if (!found.ok) return found;
    declared = found.declared;
  }
  if (!declared && request.set.length === 0) {
    return {
      ok: false,
      problem: 'usage',
      message:
        'nothing to sweep: name a sweep of pipeline.yaml (`pipeline sweep --list`) or give the grid with --set key=v1,v2,…',
    };
  }
  const jobs = request.jobs ?? declared?.jobs ?? 1;
  const metric = request.metric ?? declared?.metric;
  const maximize = request.maximize || declared?.maximize === true;
  if (request.applyBest && !metric)
    return {
      ok: false,
      problem: 'usage',
      message: "--apply best needs --metric (or the sweep's `metric:`) to say what best means",
    };
  const grid = sweepGrid(withOverrides(declared?.set ?? [], request.set));
  if (!grid.ok)
    return { ok: false, problem: 'usage', message: declared ? `sweep "${declared.name}": ${grid.error}` : grid.error };
  const { fixed, swept, variants } = grid.grid;

  // Every variant is loaded and validated before anything runs.
  const loaded: LoadedVariant[] = [];
  for (const variant of variants) {
    const result = await loadGraph(request.file, { set: [...fixed, ...variant.values].map(([k, v]) => `${k}=${v}`) });
    if (!result.ok)
      return {
        ok: false,
        problem: 'diagnostics',
        diagnostics: result.diagnostics,
        variant: `${variant.name} (${describeValues(variant.values)})`,
      };
    const { order, upstream } = result.graph;
    loaded.push({
      variant,
      pipeline: result.pipeline,
      graph: { order, upstream: (stage) => upstream.get(stage) ?? [] },
    });
  }
  const root = loaded[0].pipeline.root;
  const opened = RunSession.open(join(root, '.pipeline'), { note: request.note, interrupted: request.interrupted });
  if (!opened.ok) return { ok: false, problem: 'error', message: opened.busy };
  const { session } = opened;
  const id = newRunId();
  request.out.write(
    `sweep ${id}${declared ? ` (${declared.name})` : ''}: ${variants.length} variants of ${swept.map(([k, v]) => `${k} (${v.length})`).join(' × ')}, --jobs ${jobs}\n`,
  );
  const started = Date.now();
  let outcomes: VariantOutcome[];
  try {
    outcomes = await runSweep({
      projectFile: request.file,
      sweepId: id,
      variants: loaded,
      fixed,
      jobs,
      signal: session.signal,
      out: request.out,
      ...(request.remote ? { remote: request.remote } : {}),
    });
  } finally {
    session.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const ranked = rank(outcomes, metric, maximize).map((outcome) => ({ outcome, summary: summarise(outcome, root) }));
  const sweepDir = join(root, '.pipeline', 'sweeps', id);
  const page = join(sweepDir, 'compare.html');
  writeComparePage(page, {
    title: `Sweep ${id}`,
    records: ranked.map((r) => r.outcome.record),
    swept: swept.map(([k]) => k),
    metric,
    maximize,
    plotText: cachedPlotReader(root),
  });
  const sweepJson = {
    id,
    name: declared?.name,
    fixed,
    swept,
    metric,
    maximize,
    seconds,
    variants: ranked.map((r) => r.summary),
  };
  writeFileSync(join(sweepDir, 'sweep.json'), `${JSON.stringify(sweepJson, null, 1)}\n`);

  const report: SweepReport = {
    ok: true,
    id,
    swept,
    seconds,
    ranked,
    page,
    ...(declared ? { name: declared.name } : {}),
    ...(metric ? { metric } : {}),
  };
  if (session.interruptedBy) report.interruptedBy = session.interruptedBy;
  else if (request.applyBest) report.applied = applyBest(request.file, ranked[0]?.outcome, fixed, metric!);
  return report;
}

async function declaredSweep(
  file: string,
  name: string,
): Promise<{ ok: true; declared: SweepDeclaration } | SweepRefusal> {
  const loaded = await loadPipeline(file);
  if (!loaded.ok) return { ok: false, problem: 'diagnostics', diagnostics: loaded.diagnostics };
  const { sweeps } = loaded.pipeline;
  const declared = sweeps.get(name);
  if (!declared) {
    const known = [...sweeps.keys()];
    const hint =
      didYouMean(name, known) ??
      (known.length
        ? `declared sweeps: ${known.join(', ')}`
        : 'pipeline.yaml has no `sweeps:` block; declare one, or give the grid with --set key=v1,v2');
    return {
      ok: false,
      problem: 'error',
      message: `no sweep "${name}" in ${relative(process.cwd(), file) || file}`,
      hint,
    };
  }
  if (declared.problems.length > 0) return { ok: false, problem: 'diagnostics', diagnostics: declared.problems };
  return { ok: true, declared };
}

/** The winner is its values plus the fixed ones: with both written, `pipeline run` finds its results in the run cache. */
function applyBest(
  file: string,
  best: VariantOutcome | undefined,
  fixed: Array<[string, string]>,
  metric: string,
): SweepReport['applied'] {
  if (!best || variantStatus(best) !== 'ok' || best.record.metrics[metric] === undefined)
    return { ok: false, message: `no variant produced ${metric}` };
  const values = [...fixed, ...best.variant.values];
  const edited = setParamValues(readFileSync(file, 'utf8'), values);
  if (!edited.ok) return { ok: false, message: edited.error };
  writeFileSync(file, edited.text);
  return { ok: true, variant: best.variant.name, values };
}

/** The declared lists, each key the command line also gives replaced by its `--set`; new keys added after. */
function withOverrides(declared: readonly SweepEntry[], given: readonly SweepEntry[]): SweepEntry[] {
  const byKey = new Map(given);
  return [
    ...declared.map(([key, values]): SweepEntry => [key, byKey.get(key) ?? values]),
    ...given.filter(([key]) => !declared.some(([k]) => k === key)),
  ];
}

export function describeValues(values: Array<[string, string]>): string {
  return values.map(([k, v]) => `${k}=${v}`).join(', ');
}

function summarise(outcome: VariantOutcome, root: string): VariantSummary {
  const { variant, record } = outcome;
  return {
    variant: variant.name,
    params: Object.fromEntries(variant.values),
    status: variantStatus(outcome),
    metrics: record.metrics,
    run: record.id,
    folder: relative(root, outcome.folder),
  };
}

function variantStatus(outcome: VariantOutcome): string {
  const failed = outcome.results.find((r) => r.action === 'failed');
  if (failed) return `failed: ${failed.stage} (${failed.failure ? describeFailure(failed.failure) : 'error'})`;
  return outcome.results.some((r) => r.action === 'not-run') ? 'interrupted' : 'ok';
}

/** Best first by the metric; variants without it (failed) last, in grid order. */
function rank(outcomes: VariantOutcome[], metric: string | undefined, maximize: boolean): VariantOutcome[] {
  if (!metric) return outcomes;
  const value = (o: VariantOutcome) => (variantStatus(o) === 'ok' ? o.record.metrics[metric] : undefined);
  return [...outcomes].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (x === undefined || y === undefined) return (x === undefined ? 1 : 0) - (y === undefined ? 1 : 0);
    return maximize ? y - x : x - y;
  });
}
