/** `pipeline compare`: the comparison page (HTML) of recorded runs or of one sweep. */
import { relative, resolve } from 'node:path';
import { cachedPlotReader, writeComparePage } from '../../experiments/compare-page.ts';
import { parseOptions } from '../options.ts';
import { openRecords } from './metrics.ts';
import { runFigures } from '../../experiments/run-record.ts';

const usage = `Usage: pipeline compare [options]

Writes one self-contained HTML page (no scripts, no external files): the runs
table, the chosen metric against the params that differ between the runs, and
the stages' declared plots (training curves) of every run overlaid. A sweep
writes its own page under .pipeline/sweeps/<id>/compare.html.

  --runs <N>          the last N recorded runs (default 10)
  --sweep <id>        the variants of one sweep instead (its id, or "last")
  --metric <name>     the metric to sort by and plot (e.g. predict.log_loss), or a
                      figure a stage reported (e.g. features.imagesPerSecond)
  --max               larger is better (default: smaller)
  -o, --output <file> where to write it (default .pipeline/compare.html)`;

export default async function compare(argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage,
    options: {
      runs: { type: 'string' },
      sweep: { type: 'string' },
      metric: { type: 'string' },
      max: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
    },
  });
  if (!options.ok) return options.exitCode;
  const { values } = options;
  const count = values.runs === undefined ? 10 : Number(values.runs);
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write(`error: --runs takes a whole number ≥ 1, got "${String(values.runs)}"\n`);
    return 2;
  }
  const opened = await openRecords(options.file, options.set);
  if (!opened) return 1;
  const { workspace, runs } = opened;
  let records = runs.slice(-count);
  let title = `Last ${records.length} runs`;
  if (values.sweep !== undefined) {
    const sweeps = runs.filter((r) => r.sweep);
    const id = values.sweep === 'last' ? sweeps.at(-1)?.sweep?.id : String(values.sweep);
    records = sweeps.filter((r) => r.sweep?.id === id);
    if (records.length === 0) {
      process.stderr.write(
        `error: no recorded sweep ${values.sweep === 'last' ? 'yet' : `"${String(values.sweep)}"`}\n`,
      );
      return 1;
    }
    title = `Sweep ${id}`;
  }
  if (records.length === 0) {
    process.stderr.write('error: no recorded runs yet: every `pipeline run` records one\n');
    return 1;
  }
  const metric = values.metric as string | undefined;
  const maximize = values.max === true;
  if (metric) {
    // A figure a stage reported (features.imagesPerSecond) can be the chosen metric too; a metric of that name wins.
    records = records.map((r) =>
      metric in r.metrics || runFigures(r)[metric] === undefined
        ? r
        : { ...r, metrics: { ...r.metrics, [metric]: runFigures(r)[metric] } },
    );
    const value = (r: (typeof records)[number]) => r.metrics[metric];
    records = [...records].sort((a, b) =>
      value(a) === undefined ? 1 : value(b) === undefined ? -1 : maximize ? value(b) - value(a) : value(a) - value(b),
    );
  }
  // A sweep's records list its --set values in grid order: the keys whose values differ are the swept ones.
  const setKeys = values.sweep === undefined ? [] : records[0].set.map((s) => s.slice(0, s.indexOf('=')));
  const swept = setKeys.filter(
    (key) => new Set(records.map((r) => r.set.find((s) => s.startsWith(`${key}=`)))).size > 1,
  );
  const output = resolve(typeof values.output === 'string' ? values.output : resolve(workspace.dotDir, 'compare.html'));
  writeComparePage(output, { title, records, swept, metric, maximize, plotText: cachedPlotReader(workspace.root) });
  process.stdout.write(`${relative(process.cwd(), output) || output}\n`);
  return 0;
}
