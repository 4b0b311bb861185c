/** `pipeline run [STAGE…]`: bring the targets (and their stale upstream) up to date. */
import { rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openProject } from '../../execution/project-session.ts';
import { OutTransaction } from '../../execution/out-transaction.ts';
import { cancelLeftoverSlurmJobs, SlurmExecutor, slurmAvailable } from '../../execution/executors/slurm.ts';
import { RunSession } from '../../execution/run-session.ts';
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
  -j, --jobs <N>      run up to N independent stages at once (default 1; with
                      --executor slurm, no limit); stages marked heavy never
                      run beside another heavy stage
  --executor <name>   local (child processes) or slurm (one sbatch job per
                      stage and per shard); default: executor.type in
                      pipeline.yaml, else local; on slurm a failing stage
                      cancels every other job of the run
  --keep-going        on slurm, let independent stages finish after a
                      failure (what local runs always do)
  --verbose           also show the stack trace of a stage's user error (a bad
                      value, a missing file) on the terminal; it is always in the log`;

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
      verbose: { type: 'boolean' },
      executor: { type: 'string' },
      'keep-going': { type: 'boolean' },
    },
  });
  if (!options.ok) return options.exitCode;
  const { values } = options;
  const jobsOption = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobsOption !== undefined && (!Number.isInteger(jobsOption) || jobsOption < 1)) {
    process.stderr.write(`error: --jobs takes a whole number ≥ 1, got "${String(values.jobs)}"\n`);
    return 2;
  }
  if (values.executor !== undefined && values.executor !== 'local' && values.executor !== 'slurm') {
    process.stderr.write(`error: --executor takes local or slurm, got "${String(values.executor)}"\n`);
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
  const executorName = (values.executor as 'local' | 'slurm' | undefined) ?? session.pipeline.executor?.type ?? 'local';
  if (executorName === 'slurm' && !slurmAvailable()) {
    process.stderr.write('error: the slurm executor needs Slurm\'s client commands (sbatch, squeue, scancel, scontrol) on PATH; none found\n');
    return 1;
  }
  // On a cluster the scheduler decides what runs at once; --jobs still caps it when given.
  const jobs = jobsOption ?? (executorName === 'slurm' ? Math.max(1, selected.length) : 1);

  // Only a human at a terminal gets the interactive renderer, and only when something will execute.
  const reporterOut = options.json ? process.stderr : process.stdout;
  const notices: string[] = [];
  const locked = RunSession.open(workspace.dotDir, (message) => notices.push(message));
  if (!locked.ok) {
    process.stderr.write(`error: ${locked.busy}\n`);
    return 1;
  }
  const { session: runSession } = locked;
  try {
    // Jobs of a killed run first: they must be gone before its outs are put back.
    const leftoverJobs = cancelLeftoverSlurmJobs(join(workspace.dotDir, 'tmp'));
    if (leftoverJobs.length > 0) notices.push(`cancelled Slurm job${leftoverJobs.length === 1 ? '' : 's'} ${leftoverJobs.map((j) => `${j.jobId} (${j.stage})`).join(', ')} left by an interrupted run`);
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
        signal: runSession.signal,
        verbose: values.verbose === true,
        ...(executorName === 'slurm'
          ? { executor: new SlurmExecutor(session.pipeline.executor, join(workspace.dotDir, 'tmp', runId)), failFast: values['keep-going'] !== true }
          : {}),
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
    return runSession.interruptExitCode ?? (failed.length > 0 ? 1 : 0);
  } finally {
    runSession.close();
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
