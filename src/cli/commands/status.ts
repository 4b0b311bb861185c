/** `pipeline status [STAGE…]`: each stage up to date, stale or restorable, and why. */
import { openProject } from '../../execution/project-session.ts';
import { assessStages } from '../../execution/stage-status.ts';
import { describeReasons } from '../../logging/stage-line.ts';
import { parseOptions, printDiagnostics } from '../options.ts';

const usage = `Usage: pipeline status [STAGE…] [options]

Shows each stage (the named ones and their upstream; all when none are named)
as up-to-date, stale (would run) or restorable (would come back from the run
cache), with the reasons. Changes nothing except the hash cache under .pipeline/.`;

export default async function status(argv: string[]): Promise<number> {
  const options = parseOptions(argv, { usage, allowPositionals: true });
  if (!options.ok) return options.exitCode;
  const opened = await openProject(options.file, options.set, options.positionals);
  if (!opened.ok) {
    printDiagnostics(opened.diagnostics);
    return 1;
  }
  const { workspace, graph, selected, warnings } = opened.session;
  printDiagnostics(warnings);
  const statuses = await assessStages(workspace, graph, selected, new Set());
  if (options.json) {
    process.stdout.write(`${JSON.stringify(statuses.map(({ stage, state, reasons }) => ({ stage, state, reasons })), null, 2)}\n`);
    return 0;
  }
  const width = Math.max(0, ...statuses.map((s) => s.stage.length));
  const stateWidth = Math.max(...statuses.map((s) => s.state.length));
  for (const s of statuses) {
    const why = s.reasons.length > 0 ? `  (${describeReasons(s.reasons)})` : '';
    process.stdout.write(`${s.stage.padEnd(width)}  ${s.state.padEnd(stateWidth)}${why}\n`);
  }
  const pending = statuses.filter((s) => s.state !== 'up-to-date');
  if (pending.length === 0) process.stdout.write('everything is up to date\n');
  else {
    const command = ['pipeline run', ...options.positionals, ...options.set.map((kv) => `--set ${kv}`)].join(' ');
    process.stdout.write(`${pending.length} stage${pending.length === 1 ? '' : 's'} out of date: run \`${command}\` to update ${pending.length === 1 ? 'it' : 'them'}\n`);
  }
  return 0;
}
