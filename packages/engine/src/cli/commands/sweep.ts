/** `pipeline sweep [NAME] --set key=a,b …`: run a grid of param variants side by side, then one table. Parses and prints; experiments/execute-sweep.ts runs. */
import { relative } from 'node:path';
import { loadPipeline } from '../../config/load.ts';
import type { SweepDeclaration } from '../../config/pipeline.ts';
import { describeValues, executeSweep } from '../../experiments/execute-sweep.ts';
import { parseSetLists } from '../../experiments/sweep-grid.ts';
import { formatValue, renderTable } from '../../experiments/text-table.ts';
import { interruptExitCode, parseOptions, printDiagnostics } from '../options.ts';
import { openRemoteStore, remoteOptions, remoteOptionsHelp } from '../remote-options.ts';

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
  --list              list the sweeps pipeline.yaml declares, run nothing
${remoteOptionsHelp}`;

export default async function sweep(argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage,
    options: {
      metric: { type: 'string' },
      max: { type: 'boolean' },
      apply: { type: 'string' },
      jobs: { type: 'string', short: 'j' },
      list: { type: 'boolean' },
      ...remoteOptions,
    },
    allowPositionals: true,
  });
  if (!options.ok) return options.exitCode;
  const { values, positionals } = options;
  if (positionals.length > 1)
    return usageError(`one sweep at a time, got ${positionals.map((p) => `"${p}"`).join(', ')}`);
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1))
    return usageError(`--jobs takes a whole number ≥ 1, got "${String(values.jobs)}"`);
  if (values.apply !== undefined && values.apply !== 'best')
    return usageError(`--apply takes "best", got "${String(values.apply)}"`);
  const lists = parseSetLists(options.set);
  if (!lists.ok) return usageError(lists.error);
  if (values.list) {
    const loaded = await loadPipeline(options.file);
    if (!loaded.ok) {
      printDiagnostics(loaded.diagnostics);
      return 1;
    }
    process.stdout.write(listSweeps(loaded.pipeline.sweeps));
    return 0;
  }

  const project = await loadPipeline(options.file);
  if (!project.ok) {
    printDiagnostics(project.diagnostics);
    return 1;
  }
  const remote = openRemoteStore(project.pipeline, values);
  if (remote === false) return 2;
  const progress = options.json ? process.stderr : process.stdout;
  const report = await executeSweep({
    ...(remote ? { remote } : {}),
    file: options.file,
    ...(positionals.length === 1 ? { name: positionals[0] } : {}),
    set: lists.entries,
    ...(jobs !== undefined ? { jobs } : {}),
    ...(typeof values.metric === 'string' ? { metric: values.metric } : {}),
    maximize: values.max === true,
    applyBest: values.apply === 'best',
    out: progress,
    note: (message) => process.stderr.write(`note: ${message}\n`),
    interrupted: (signal) =>
      process.stderr.write(`\n${signal}: stopping the running stages and restoring their previous outs…\n`),
  });
  if (!report.ok) {
    switch (report.problem) {
      case 'usage':
        return usageError(report.message);
      case 'error':
        process.stderr.write(`error: ${report.message}\n${report.hint ? `  hint: ${report.hint}\n` : ''}`);
        return 1;
      case 'diagnostics':
        if (report.variant) process.stderr.write(`variant ${report.variant}:\n`);
        printDiagnostics(report.diagnostics);
        return 1;
    }
  }

  const { id, name, metric, seconds, swept, ranked } = report;
  const shown = (path: string) => relative(process.cwd(), path) || path;
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ id, name, seconds, metric, variants: ranked.map((r) => r.summary), page: shown(report.page) }, null, 2)}\n`,
    );
  } else {
    const headers = ['variant', ...swept.map(([k]) => k), ...(metric ? [metric] : []), 'status'];
    const rows = ranked.map(({ outcome, summary }) => [
      summary.variant,
      ...outcome.variant.values.map(([, v]) => v),
      ...(metric ? [formatValue(summary.metrics[metric])] : []),
      summary.status,
    ]);
    process.stdout.write(
      `\n${renderTable(headers, rows, 'terminal')}\n\n${ranked.length} variants in ${seconds.toFixed(1)} s; comparison page: ${shown(report.page)}\n`,
    );
  }
  if (report.applied && !report.applied.ok) {
    process.stderr.write(`error: ${report.applied.message}; pipeline.yaml not changed\n`);
    return 1;
  }
  if (report.applied?.ok) {
    const { variant, values: applied } = report.applied;
    process.stderr.write(
      `applied ${variant} to ${shown(options.file)}: ${describeValues(applied)} (\`pipeline run\` restores its results from the run cache)\n`,
    );
  }
  if (report.interruptedBy) return interruptExitCode(report.interruptedBy);
  return ranked.some((r) => r.summary.status !== 'ok') ? 1 : 0;
}

function usageError(message: string): number {
  process.stderr.write(`error: ${message}\nRun \`pipeline sweep --help\` for its options.\n`);
  return 2;
}

function listSweeps(sweeps: ReadonlyMap<string, SweepDeclaration>): string {
  if (sweeps.size === 0)
    return 'pipeline.yaml declares no sweeps (a `sweeps:` block); `pipeline sweep --set key=v1,v2` runs one from the command line\n';
  const rows = [...sweeps.values()].map((s) => {
    const size = s.set.reduce((n, [, v]) => n * v.length, 1);
    const grid = s.set.map(([k, v]) => `${k} (${v.length})`).join(' × ');
    const by = s.metric ? `, best ${s.maximize ? 'largest' : 'smallest'} ${s.metric}` : '';
    const broken = s.problems.length ? ` (cannot run: ${s.problems.map((p) => p.message).join('; ')})` : '';
    return `${s.name}: ${size} variants of ${grid}${by}${broken}${s.description ? `\n  ${s.description}` : ''}`;
  });
  return `${rows.join('\n')}\n\nRun one with \`pipeline sweep <name>\`.\n`;
}
