/** `pipeline sweep [NAME] --set key=a,b …`: run a grid of param variants side by side, then one table. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadGraph } from '../../graph/load-graph.ts';
import { loadPipeline } from '../../config/load.ts';
import { didYouMean } from '../../config/did-you-mean.ts';
import type { SweepDeclaration } from '../../config/pipeline.ts';
import { RunSession } from '../../execution/run-session.ts';
import { newRunId } from '../../execution/run-stages.ts';
import { setParamValues } from '../../experiments/param-edit.ts';
import { parseSetLists, sweepGrid, type SweepEntry } from '../../experiments/sweep-grid.ts';
import { runSweep, type LoadedVariant, type VariantOutcome } from '../../experiments/sweep-run.ts';
import { formatValue, renderTable } from '../../experiments/text-table.ts';
import { cachedPlotReader, writeComparePage } from '../../experiments/compare-page.ts';
import { describeFailure } from '../../execution/stage-failure.ts';
import { interruptExitCode, parseOptions, printDiagnostics } from '../options.ts';

const usage = `Usage: pipeline sweep [NAME] [--set key=v1,v2,…] [options]

NAME is a sweep of pipeline.yaml's \`sweeps:\` block (\`--list\` shows them);
--set, --metric, --max and --jobs add to it or take precedence over it.
Runs every combination of the listed values (a grid), each variant in its own
folder under .pipeline/sweeps/<id>/, up to --jobs stages at once across the
variants. Stages that get the same inputs in several variants run once; the
others restore them from the run cache (and a stage the project already ran is
restored, not recomputed). pipeline.yaml, pipeline.lock and the outs of the
project are left as they were. Prints one table, writes a comparison page, and
records each variant as a run (\`pipeline metrics show --runs N\`).

  --set <key=v1,v2>   a param and its values (YAML, comma-separated; one value
                      = fixed for every variant); repeatable, one per key
  --metric <name>     sort the table by this metric (e.g. predict.log_loss)
  --max               best is the largest value (default: the smallest)
  --apply best        write the best variant's values (and the single-valued
                      --set ones) into pipeline.yaml (only those values change;
                      comments and layout stay); then
                      \`pipeline run\` restores its results from the run cache
  -j, --jobs <N>      stages run at once across variants (default 1); heavy
                      stages never run beside another heavy stage
  --list              list the sweeps pipeline.yaml declares, run nothing`;

export default async function sweep(argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage,
    options: { metric: { type: 'string' }, max: { type: 'boolean' }, apply: { type: 'string' }, jobs: { type: 'string', short: 'j' }, list: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (!options.ok) return options.exitCode;
  const { values, positionals } = options;
  if (positionals.length > 1) return usageError(`one sweep at a time, got ${positionals.map((p) => `"${p}"`).join(', ')}`);
  const jobsFlag = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobsFlag !== undefined && !(Number.isInteger(jobsFlag) && jobsFlag >= 1)) return usageError(`--jobs takes a whole number ≥ 1, got "${String(values.jobs)}"`);
  if (values.apply !== undefined && values.apply !== 'best') return usageError(`--apply takes "best", got "${String(values.apply)}"`);
  const lists = parseSetLists(options.set);
  if (!lists.ok) return usageError(lists.error);

  let declared: SweepDeclaration | undefined;
  if (positionals.length === 1 || values.list) {
    const loadedFile = await loadPipeline(options.file);
    if (!loadedFile.ok) {
      printDiagnostics(loadedFile.diagnostics);
      return 1;
    }
    const { sweeps } = loadedFile.pipeline;
    if (values.list) {
      process.stdout.write(listSweeps(sweeps));
      return 0;
    }
    declared = sweeps.get(positionals[0]!);
    if (!declared) {
      const known = [...sweeps.keys()];
      const hint = didYouMean(positionals[0]!, known) ?? (known.length ? `declared sweeps: ${known.join(', ')}` : 'pipeline.yaml has no `sweeps:` block; declare one, or give the grid with --set key=v1,v2');
      process.stderr.write(`error: no sweep "${positionals[0]}" in ${relative(process.cwd(), options.file) || options.file}\n  hint: ${hint}\n`);
      return 1;
    }
    if (declared.problems.length > 0) {
      printDiagnostics(declared.problems);
      return 1;
    }
  }
  if (!declared && lists.entries.length === 0) return usageError('nothing to sweep: name a sweep of pipeline.yaml (`pipeline sweep --list`) or give the grid with --set key=v1,v2,…');
  const jobs = jobsFlag ?? declared?.jobs ?? 1;
  const metric = (values.metric as string | undefined) ?? declared?.metric;
  const maximize = values.max === true || declared?.maximize === true;
  if (values.apply && !metric) return usageError('--apply best needs --metric (or the sweep\'s `metric:`) to say what best means');
  const grid = sweepGrid(withOverrides(declared?.set ?? [], lists.entries));
  if (!grid.ok) return usageError(declared ? `sweep "${declared.name}": ${grid.error}` : grid.error);
  const { fixed, swept, variants } = grid.grid;

  // Every variant is loaded and validated before anything runs.
  const loaded: LoadedVariant[] = [];
  for (const variant of variants) {
    const result = await loadGraph(options.file, { set: [...fixed, ...variant.values].map(([k, v]) => `${k}=${v}`) });
    if (!result.ok) {
      process.stderr.write(`variant ${variant.name} (${describeValues(variant.values)}):\n`);
      printDiagnostics(result.diagnostics);
      return 1;
    }
    const { order, upstream } = result.graph;
    loaded.push({ variant, pipeline: result.pipeline, graph: { order, upstream: (stage) => upstream.get(stage) ?? [] } });
  }
  const root = loaded[0].pipeline.root;
  const opened = RunSession.open(join(root, '.pipeline'), (message) => process.stderr.write(`note: ${message}\n`));
  if (!opened.ok) {
    process.stderr.write(`error: ${opened.busy}\n`);
    return 1;
  }
  const { session: runSession } = opened;
  const sweepId = newRunId();
  const progress = options.json ? process.stderr : process.stdout;
  progress.write(`sweep ${sweepId}${declared ? ` (${declared.name})` : ''}: ${variants.length} variants of ${swept.map(([k, v]) => `${k} (${v.length})`).join(' × ')}, --jobs ${jobs}\n`);
  const started = Date.now();
  let outcomes: VariantOutcome[];
  try {
    outcomes = await runSweep({ projectFile: options.file, sweepId, variants: loaded, fixed, jobs, signal: runSession.signal, out: progress });
  } finally {
    runSession.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const ranked = rank(outcomes, metric, maximize);
  const sweepDir = join(root, '.pipeline', 'sweeps', sweepId);
  const page = join(sweepDir, 'compare.html');
  writeComparePage(page, { title: `Sweep ${sweepId}`, records: ranked.map((o) => o.record), swept: swept.map(([k]) => k), metric, maximize, plotText: cachedPlotReader(root) });
  const summary = ranked.map((o) => ({ variant: o.variant.name, params: Object.fromEntries(o.variant.values), status: status(o), metrics: o.record.metrics, run: o.record.id, folder: relative(root, o.folder) }));
  writeFileSync(join(sweepDir, 'sweep.json'), `${JSON.stringify({ id: sweepId, name: declared?.name, fixed, swept, metric, maximize, seconds, variants: summary }, null, 1)}\n`);

  const shown = (path: string) => relative(process.cwd(), path) || path;
  if (options.json) process.stdout.write(`${JSON.stringify({ id: sweepId, name: declared?.name, seconds, metric, variants: summary, page: shown(page) }, null, 2)}\n`);
  else {
    const headers = ['variant', ...swept.map(([k]) => k), ...(metric ? [metric] : []), 'status'];
    const rows = ranked.map((o) => [o.variant.name, ...o.variant.values.map(([, v]) => v), ...(metric ? [formatValue(o.record.metrics[metric])] : []), status(o)]);
    process.stdout.write(`\n${renderTable(headers, rows, 'terminal')}\n\n${variants.length} variants in ${seconds.toFixed(1)} s; comparison page: ${shown(page)}\n`);
  }
  const failures = outcomes.filter((o) => status(o) !== 'ok');
  if (values.apply === 'best' && !runSession.interruptedBy) {
    const best = ranked[0];
    if (!best || status(best) !== 'ok' || best.record.metrics[metric!] === undefined) {
      process.stderr.write(`error: no variant produced ${metric}; pipeline.yaml not changed\n`);
      return 1;
    }
    // The winner is its values plus the fixed ones: with both written, `pipeline run` finds its results in the run cache.
    const winning = [...fixed, ...best.variant.values];
    const edited = setParamValues(readFileSync(options.file, 'utf8'), winning);
    if (!edited.ok) {
      process.stderr.write(`error: ${edited.error}; pipeline.yaml not changed\n`);
      return 1;
    }
    writeFileSync(options.file, edited.text);
    process.stderr.write(`applied ${best.variant.name} to ${shown(options.file)}: ${describeValues(winning)} (\`pipeline run\` restores its results from the run cache)\n`);
  }
  if (runSession.interruptedBy) return interruptExitCode(runSession.interruptedBy);
  return failures.length > 0 ? 1 : 0;
}

function usageError(message: string): number {
  process.stderr.write(`error: ${message}\nRun \`pipeline sweep --help\` for its options.\n`);
  return 2;
}

/** The declared lists, each key the command line also gives replaced by its `--set`; new keys added after. */
function withOverrides(declared: readonly SweepEntry[], given: readonly SweepEntry[]): SweepEntry[] {
  const byKey = new Map(given);
  return [...declared.map(([key, values]): SweepEntry => [key, byKey.get(key) ?? values]), ...given.filter(([key]) => !declared.some(([k]) => k === key))];
}

function listSweeps(sweeps: ReadonlyMap<string, SweepDeclaration>): string {
  if (sweeps.size === 0) return 'pipeline.yaml declares no sweeps (a `sweeps:` block); `pipeline sweep --set key=v1,v2` runs one from the command line\n';
  const rows = [...sweeps.values()].map((s) => {
    const size = s.set.reduce((n, [, v]) => n * v.length, 1);
    const grid = s.set.map(([k, v]) => `${k} (${v.length})`).join(' × ');
    const by = s.metric ? `, best ${s.maximize ? 'largest' : 'smallest'} ${s.metric}` : '';
    const broken = s.problems.length ? ` (cannot run: ${s.problems.map((p) => p.message).join('; ')})` : '';
    return `${s.name}: ${size} variants of ${grid}${by}${broken}${s.description ? `\n  ${s.description}` : ''}`;
  });
  return `${rows.join('\n')}\n\nRun one with \`pipeline sweep <name>\`.\n`;
}

function describeValues(values: Array<[string, string]>): string {
  return values.map(([k, v]) => `${k}=${v}`).join(', ');
}

function status(outcome: VariantOutcome): string {
  const failed = outcome.results.find((r) => r.action === 'failed');
  if (failed) return `failed: ${failed.stage} (${failed.failure ? describeFailure(failed.failure) : 'error'})`;
  return outcome.results.some((r) => r.action === 'not-run') ? 'interrupted' : 'ok';
}

/** Best first by the metric; variants without it (failed) last, in grid order. */
function rank(outcomes: VariantOutcome[], metric: string | undefined, maximize: boolean): VariantOutcome[] {
  if (!metric) return outcomes;
  const value = (o: VariantOutcome) => (status(o) === 'ok' ? o.record.metrics[metric] : undefined);
  return [...outcomes].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (x === undefined || y === undefined) return (x === undefined ? 1 : 0) - (y === undefined ? 1 : 0);
    return maximize ? y - x : x - y;
  });
}
