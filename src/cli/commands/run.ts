/** `pipeline run [STAGE…]`: bring the targets (and their stale upstream) up to date. */
import { rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openProject } from '../../execution/project-session.ts';
import { OutTransaction } from '../../execution/out-transaction.ts';
import { RunLock, RunLockBusyError } from '../../execution/run-lock.ts';
import { newRunId, runStages } from '../../execution/run-engine.ts';
import { assessStages } from '../../execution/stage-status.ts';
import { forcedStages, type ForceMode } from '../../execution/stage-selection.ts';
import { LockWriter } from '../../cache/lock-file.ts';
import { PlainReporter } from '../../logging/plain-reporter.ts';
import { describeOutcome } from '../../logging/stage-line.ts';
import type { RunReporter, StageResult } from '../../logging/stage-result.ts';
import { appendRun, recordOf } from '../../experiments/run-record.ts';
import { parseOptions, printDiagnostics } from '../options.ts';

const usage = `Usage: pipeline run [STAGE…] [options]

Runs the named stages and every stale stage upstream of them (all stages when
none are named). Up-to-date stages are skipped; a stale stage whose exact
inputs ran before is restored from the run cache instead of re-running.

  --force             re-execute the named stages even if up to date (not their
                      upstream; all stages when none are named); bypasses the run cache
  --force-upstream    --force for the named stages and everything upstream of them
  --force-all         --force for every selected stage
  --dry-run           print what would run and why; run nothing
  -j, --jobs <N>      run up to N independent stages at once (default 1);
                      stages marked heavy never run beside another heavy stage`;

export default async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage,
    allowPositionals: true,
    options: {
      force: { type: 'boolean' },
      'force-upstream': { type: 'boolean' },
      'force-all': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      jobs: { type: 'string', short: 'j' },
    },
  });
  if (!options.ok) return options.exitCode;
  const { values } = options;
  const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    process.stderr.write(`error: --jobs takes a whole number ≥ 1, got "${String(values.jobs)}"\n`);
    return 2;
  }
  const force: ForceMode = values['force-all'] ? 'all' : values['force-upstream'] ? 'upstream' : values.force ? 'targets' : 'none';

  const opened = await openProject(options.file, options.set, options.positionals);
  if (!opened.ok) {
    printDiagnostics(opened.diagnostics);
    return 1;
  }
  const { session } = opened;
  printDiagnostics(session.warnings);
  const { workspace, graph, selected, targets } = session;
  const forced = forcedStages(graph, targets, selected, force);
  const shown = (path: string) => relative(process.cwd(), path) || path;

  if (values['dry-run']) return dryRun(await assessStages(workspace, graph, selected, forced), options.json);

  // Only a human at a terminal gets the interactive renderer, and only when something will execute.
  const reporterOut = options.json ? process.stderr : process.stdout;
  const notices: string[] = [];
  let lock: RunLock;
  try {
    lock = RunLock.acquire(join(workspace.dotDir, 'run.lock'), (message) => notices.push(message));
  } catch (error) {
    if (error instanceof RunLockBusyError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const controller = new AbortController();
  let interruptedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!interruptedBy) process.stderr.write(`\n${signal}: stopping running stages and restoring their previous outs…\n`);
    interruptedBy = signal;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const recovered = OutTransaction.recoverInterrupted(join(workspace.dotDir, 'tmp'));
    for (const { stage, pids } of recovered.stopped) notices.push(`stopped stage ${stage}'s leftover process${pids.length === 1 ? '' : 'es'} from an interrupted run (PID ${pids.join(', ')})`);
    if (recovered.restored.length > 0) notices.push(`put back previous outs left aside by an interrupted run: ${recovered.restored.map(shown).join(', ')}`);
    const plan = await assessStages(workspace, graph, selected, forced);
    const executes = plan.some((s) => s.state === 'stale');
    const interactive = !options.json && process.stdout.isTTY === true && !process.env.CI && executes;
    let reporter: RunReporter = new PlainReporter(reporterOut);
    if (interactive) {
      const { ListrReporter } = await import('../../logging/listr-reporter.ts');
      reporter = await ListrReporter.create();
    }
    for (const message of notices) reporter.notice(message);
    const runLock = new LockWriter(workspace.lockFile, workspace.lock, graph.order);
    const runId = newRunId();
    const started = new Date();
    const results = await runStages(
      {
        workspace,
        graph,
        lock: runLock,
        reporter,
        runId,
        jobs,
        forced,
        signal: controller.signal,
        preassessed: new Map(plan.map((s) => [s.stage, s.evaluation])),
      },
      selected,
    );
    rmSync(join(workspace.dotDir, 'tmp', runId), { recursive: true, force: true });
    try {
      appendRun(workspace.dotDir, await recordOf(workspace, { id: runId, started, results, set: options.set }));
    } catch (error) {
      process.stderr.write(`warning: could not write the run record: ${(error as Error).message}\n`);
    }
    if (options.json) process.stdout.write(`${JSON.stringify(results.map(jsonResult), null, 2)}\n`);
    const failed = results.filter((r) => r.action === 'failed');
    for (const r of failed) process.stderr.write(`error: stage ${r.stage} ${describeOutcome(r)}\n`);
    if (interruptedBy) return interruptedBy === 'SIGINT' ? 130 : 143;
    return failed.length > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lock.release();
  }
}

function jsonResult(r: StageResult): Record<string, unknown> {
  return { stage: r.stage, action: r.action, reasons: r.reasons, seconds: Math.round(r.seconds * 1000) / 1000, ...(r.log ? { log: r.log } : {}), ...(r.error ? { error: r.error } : {}) };
}

function dryRun(plan: Awaited<ReturnType<typeof assessStages>>, json: boolean): number {
  const results: StageResult[] = plan.map((s) => ({
    stage: s.stage,
    action: s.state === 'up-to-date' ? 'skipped' : s.state === 'restorable' ? 'would-restore' : 'would-run',
    reasons: s.state === 'up-to-date' ? ['up to date'] : s.reasons,
    seconds: 0,
  }));
  if (json) {
    process.stdout.write(`${JSON.stringify(results.map(jsonResult), null, 2)}\n`);
    return 0;
  }
  const width = Math.max(0, ...results.map((r) => r.stage.length));
  for (const r of results) process.stdout.write(`${r.stage.padEnd(width)}  ${describeOutcome(r)}\n`);
  const todo = results.filter((r) => r.action !== 'skipped').length;
  process.stdout.write(todo === 0 ? 'dry run: everything is up to date\n' : `dry run: ${todo} stage${todo === 1 ? '' : 's'} would change; nothing was run\n`);
  return 0;
}
