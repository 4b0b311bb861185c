/** `pipeline run [STAGE…]`: bring the targets (and their stale upstream) up to date. Parses and prints; experiments/execute-run.ts runs. */
import { slurmAvailable } from '../../execution/executors/slurm.ts';
import { assessStages, type StageStatus } from '../../execution/assess-stages.ts';
import { forcedStages, type ForceMode } from '../../execution/stage-selection.ts';
import type { RunReporter, StageResult } from '../../execution/stage-result.ts';
import { executeRun } from '../../experiments/execute-run.ts';
import { PlainReporter } from '../../logging/plain-reporter.ts';
import { describeFailure } from '../../execution/stage-failure.ts';
import { describeReason } from '../../logging/reason-text.ts';
import { describeOutcome } from '../../logging/stage-line.ts';
import { interruptExitCode, parseOptions } from '../options.ts';
import { openProjectWithRemote, remoteOptions, remoteOptionsHelp } from '../remote-options.ts';

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
                      value, a missing file) on the terminal; it is always in the log
${remoteOptionsHelp}`;

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
      ...remoteOptions,
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
  const force: ForceMode = values['force-all']
    ? 'all'
    : values['force-upstream']
      ? 'upstream'
      : values.force
        ? 'targets'
        : 'none';

  const session = await openProjectWithRemote(options);
  if (typeof session === 'number') return session;
  const { workspace, graph, selected, targets } = session;
  const forced = forcedStages(graph, targets, selected, force);

  if (values['dry-run']) return dryRun(await assessStages(workspace, graph, selected, forced), options.json);
  const executor = values.executor ?? session.pipeline.executor?.type ?? 'local';
  if (executor === 'slurm' && !slurmAvailable()) {
    process.stderr.write(
      "error: the slurm executor needs Slurm's client commands (sbatch, squeue, scancel, scontrol) on PATH; none found\n",
    );
    return 1;
  }
  const outcome = await executeRun({
    project: session,
    forced,
    // On a cluster the scheduler decides what runs at once; --jobs still caps it when given.
    jobs: jobsOption ?? (executor === 'slurm' ? Math.max(1, selected.length) : 1),
    executor,
    failFast: executor === 'slurm' && values['keep-going'] !== true,
    verbose: values.verbose === true,
    set: options.set,
    reporter: (plan) => reporterFor(plan, options.json),
    interrupted: (signal) =>
      process.stderr.write(`\n${signal}: stopping the running stages and restoring their previous outs…\n`),
  });
  if (!outcome.ok) {
    process.stderr.write(`error: ${outcome.busy}\n`);
    return 1;
  }
  if (outcome.remote) process.stderr.write(`${outcome.remote}\n`);
  for (const warning of outcome.warnings) process.stderr.write(`warning: ${warning}\n`);
  const { results } = outcome;
  if (options.json) process.stdout.write(`${JSON.stringify(results.map(jsonResult), null, 2)}\n`);
  const failed = results.filter((r) => r.action === 'failed');
  for (const r of failed) process.stderr.write(`error: stage ${r.stage} ${describeOutcome(r)}\n`);
  if (outcome.interruptedBy) return interruptExitCode(outcome.interruptedBy);
  return failed.length > 0 ? 1 : 0;
}

/** Only a human at a terminal gets the interactive renderer, and only when something will execute. */
async function reporterFor(plan: StageStatus[], json: boolean): Promise<RunReporter> {
  const executes = plan.some((s) => s.state === 'stale');
  if (!json && process.stdout.isTTY === true && !process.env.CI && executes) {
    const { ListrReporter } = await import('../../logging/listr-reporter.ts');
    return ListrReporter.create();
  }
  return new PlainReporter(json ? process.stderr : process.stdout);
}

function jsonResult(r: StageResult): Record<string, unknown> {
  return {
    stage: r.stage,
    action: r.action,
    reasons: r.reasons.map(describeReason),
    seconds: Math.round(r.seconds * 1000) / 1000,
    ...(r.log ? { log: r.log } : {}),
    ...(r.failure ? { error: describeFailure(r.failure), failure: r.failure } : {}),
    ...(r.outsUnchanged ? { outsUnchanged: true } : {}),
    ...(r.figures ? { figures: r.figures } : {}),
  };
}

function dryRun(plan: StageStatus[], json: boolean): number {
  const results: StageResult[] = plan.map((s) => ({
    stage: s.stage,
    action: s.state === 'up-to-date' ? 'skipped' : s.state === 'restorable' ? 'would-restore' : 'would-run',
    reasons: s.state === 'up-to-date' ? [{ kind: 'up-to-date' }] : s.reasons,
    seconds: 0,
  }));
  if (json) {
    process.stdout.write(`${JSON.stringify(results.map(jsonResult), null, 2)}\n`);
    return 0;
  }
  const width = Math.max(0, ...results.map((r) => r.stage.length));
  for (const r of results) process.stdout.write(`${r.stage.padEnd(width)}  ${describeOutcome(r)}\n`);
  const todo = results.filter((r) => r.action !== 'skipped').length;
  process.stdout.write(
    todo === 0
      ? 'dry run: everything is up to date\n'
      : `dry run: ${todo} stage${todo === 1 ? '' : 's'} would change; nothing was run\n`,
  );
  return 0;
}
