/** `pipeline params diff [A] [B]`: the params that differ between two snapshots. */
import { diffParams, renderParamDiff } from '../../experiments/snapshot-diff.ts';
import { parseOptions } from '../options.ts';
import { diffSides, openRecords } from './metrics.ts';

const usage = `Usage: pipeline params diff [A] [B] [options]

The params the stages use that differ from A to B (only those, unless --all).
A and B are "workspace" (pipeline.yaml now, with --set), a run id or a unique
prefix (\`pipeline metrics show --runs N\` lists them), or a git revision whose
pipeline.lock is read. Default A: HEAD's committed pipeline.lock, or without
one the run before the latest; default B: workspace.

  --all               also params that did not change
  --md                Markdown table`;

export default async function paramsDiff(argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage,
    allowPositionals: true,
    options: { all: { type: 'boolean' }, md: { type: 'boolean' } },
  });
  if (!options.ok) return options.exitCode;
  const [sub, ...refs] = options.positionals;
  if (sub !== 'diff') {
    process.stderr.write(
      `error: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}: use \`pipeline params diff\`\n`,
    );
    return 2;
  }
  if (refs.length > 2) {
    process.stderr.write(`error: params diff takes at most two runs, got ${refs.length}\n`);
    return 2;
  }
  const opened = await openRecords(options.file, options.set);
  if (!opened) return 1;
  const sides = await diffSides(opened.workspace, opened.runs, refs);
  if (!sides.ok) {
    process.stderr.write(`error: ${sides.error}\n`);
    return 1;
  }
  const [a, b] = sides.snapshots;
  const rows = diffParams(a, b, options.values.all === true);
  if (options.json) process.stdout.write(`${JSON.stringify({ a: a.label, b: b.label, params: rows }, null, 2)}\n`);
  else process.stdout.write(`${renderParamDiff(a, b, rows, options.values.md ? 'md' : 'terminal')}\n`);
  return 0;
}
