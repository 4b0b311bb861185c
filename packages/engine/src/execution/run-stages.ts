import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { LockWriter } from '../cache/lock-file.ts';
import type { CachedRun } from '../cache/run-cache.ts';
import type { RunFigures } from '../contract.ts';
import { lockEntryFor, type OutRecord } from '../cache/lock-file.ts';
import { MISSING_HASH } from '../fingerprint/stage-fingerprint.ts';
import { filesystemNow } from '../cache/stage-caches.ts';
import { decide } from './decide.ts';
import type { StageFailure } from './stage-failure.ts';
import type { StageReason } from './stage-reason.ts';
import type { RunReporter, StageResult } from './stage-result.ts';
import type { Executor } from './executors/executor.ts';
import { localExecutor } from './executors/local.ts';
import { JobSlots } from './job-slots.ts';
import { endFolderPrefetch } from '../fingerprint/folder-prefetch.ts';
import { OutTransaction } from './out-transaction.ts';
import { runShardedModule } from './sharded-stage.ts';
import { runCommand, runModule } from './stage-process.ts';
import type { StageProcessOptions } from './stage-process.ts';
import type { StageGraph } from './stage-selection.ts';
import type { StageEvaluation, Workspace } from './workspace.ts';
import { outRecord } from './workspace.ts';
import { crashPoint } from '../crash-points.ts';

export interface RunContext {
  workspace: Workspace;
  graph: StageGraph;
  lock: LockWriter;
  reporter: RunReporter;
  runId: string;
  jobs: number;
  forced: Set<string>;
  /**
   * Evaluations made before the run (by the plan). Reused for a stage whose
   * upstream stages were all skipped: nothing it reads has changed since.
   */
  preassessed?: Map<string, StageEvaluation>;
  /** Aborted on Ctrl-C / SIGTERM: running stages are stopped and rolled back, pending ones never start. */
  signal: AbortSignal;
  /** Show stack traces of a stage's user errors (a bad value, a missing file) on the terminal too. */
  verbose?: boolean;
  /** Where stage processes run; local child processes when absent. */
  executor?: Executor;
  /** A failed stage cancels every other running stage of the run and starts no new one (Slurm's default; see --keep-going). */
  failFast?: boolean;
}

/** `YYYYMMDD-HHMMSS-pid`: sortable, unique per process, safe in file names. */
export function newRunId(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}-${process.pid}`;
}

/**
 * Runs the selected stages: each starts once its upstream stages are done,
 * is checked against the lock, then skipped, restored from the run cache, or
 * executed in a child process. Downstream of a failure nothing runs;
 * independent branches carry on.
 */
export async function runStages(ctx: RunContext, selected: string[]): Promise<StageResult[]> {
  const results = new Map<string, StageResult>();
  const finished = new Map<string, Promise<StageResult>>();
  const slots = new JobSlots(ctx.jobs);
  const reported = new Set<string>();
  const inSelection = new Set(selected);
  // Fail fast: the first failure aborts the run's own signal too, with the failed stage as its reason.
  const stopAll = new AbortController();
  ctx = { ...ctx, signal: AbortSignal.any([ctx.signal, stopAll.signal]) };
  ctx.reporter.begin(selected);

  const process = async (stage: string): Promise<StageResult> => {
    const ups = ctx.graph.upstream(stage).filter((up) => inSelection.has(up));
    const upResults = await Promise.all(ups.map((up) => finished.get(up)!));
    const blocked = upResults.find((r) => r.action === 'failed' || r.action === 'not-run');
    let result: StageResult;
    if (blocked)
      result = {
        stage,
        action: 'not-run',
        reasons: [
          { kind: 'upstream', stage: blocked.stage, state: blocked.action === 'failed' ? 'failed' : 'did-not-run' },
        ],
        seconds: 0,
      };
    else if (ctx.signal.aborted) result = { stage, action: 'not-run', reasons: [interruption(ctx.signal)], seconds: 0 };
    else {
      try {
        const upstreamUnchanged = upResults.every((r) => r.action === 'skipped');
        // Executed stages are reported before their job slot is freed, so output reads in order.
        const report = (r: StageResult): void => {
          reported.add(stage);
          ctx.reporter.stageFinished(r);
        };
        result = await handleStage(ctx, stage, slots, upstreamUnchanged, report);
      } catch (error) {
        result = {
          stage,
          action: 'failed',
          reasons: [],
          seconds: 0,
          failure: { kind: 'engine-error', message: (error as Error).message },
        };
      }
      if (result.action === 'failed' && ctx.failFast && !ctx.signal.aborted) stopAll.abort({ failedStage: stage });
    }
    results.set(stage, result);
    if (!reported.has(stage)) ctx.reporter.stageFinished(result);
    return result;
  };
  for (const stage of selected) finished.set(stage, process(stage));
  await Promise.all(finished.values());
  await ctx.workspace.remote?.settle(); // uploads finish before the run ends
  ctx.workspace.saveState();
  const ordered = selected.map((stage) => results.get(stage)!);
  await ctx.reporter.end(ordered);
  return ordered;
}

/** Why a stage stopped or never started: Ctrl-C, or (fail fast) another stage's failure. */
function interruption(signal: AbortSignal): StageReason & StageFailure {
  const failedStage = (signal.reason as { failedStage?: string } | undefined)?.failedStage;
  return failedStage ? { kind: 'cancelled', failedStage } : { kind: 'interrupted' };
}

/** One stage, the one hop from "why" to "what": evaluate (fingerprint vs lock) → decide → skip, restore or execute. */
async function handleStage(
  ctx: RunContext,
  stage: string,
  slots: JobSlots,
  upstreamUnchanged: boolean,
  report: (result: StageResult) => void,
): Promise<StageResult> {
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  const { workspace } = ctx;
  const config = workspace.stage(stage);
  const planned = upstreamUnchanged ? ctx.preassessed?.get(stage) : undefined;
  const evaluation = planned ?? (await workspace.evaluate(stage));
  const decision = await decide({
    stage: config,
    evaluation,
    forced: ctx.forced.has(stage),
    runCache: workspace.runCache,
    remote: workspace.remote,
  });
  if (decision.action === 'fresh')
    return { stage, action: 'skipped', reasons: [{ kind: 'up-to-date' }], seconds: seconds() };
  const { reasons } = decision;

  if (evaluation.fingerprint.missingDeps.length > 0) {
    return {
      stage,
      action: 'failed',
      reasons,
      seconds: seconds(),
      failure: { kind: 'missing-deps', paths: evaluation.fingerprint.missingDeps },
    };
  }

  // From here the run writes into the project: folders scanned when the command started may no longer be as scanned.
  endFolderPrefetch();
  // A run found on the remote cache is fetched (every object verified) into the local one first; if that fails, the stage runs.
  if (
    decision.action === 'restore' &&
    (!decision.remote || (await workspace.remote!.fetch(evaluation.fingerprint.hash, decision.cached)))
  ) {
    await restoreStage(ctx, stage, evaluation, decision.cached);
    return { stage, action: 'restored', reasons, seconds: seconds() };
  }

  const release = await slots.acquire(config.heavy);
  try {
    if (ctx.signal.aborted) return { stage, action: 'not-run', reasons: [interruption(ctx.signal)], seconds: 0 };
    // Timed from here: waiting for a job slot is not the stage's own time.
    const result = await executeStage(ctx, stage, evaluation, reasons, Date.now());
    report(result);
    return result;
  } finally {
    release();
  }
}

/** Put the outs of an earlier run with the same fingerprint back in place, atomically, and record them in the lock. */
async function restoreStage(
  ctx: RunContext,
  stage: string,
  evaluation: StageEvaluation,
  cached: CachedRun,
): Promise<void> {
  const { workspace } = ctx;
  const config = workspace.stage(stage);
  const work = join(workspace.dotDir, 'tmp', ctx.runId, stage);
  const fresh = cached.outs.map((_, i) => join(work, `restore-${i}`));
  const transaction = new OutTransaction(
    work,
    config.outs.map((out) => workspace.absolute(out)),
  );
  try {
    cached.outs.forEach((out, i) => workspace.runCache.materialise(out, fresh[i]));
    workspace.runCache.markUsed(evaluation.fingerprint.hash);
    transaction.install(fresh);
    const outs = (await workspace.hashOuts(config)).map(({ path, hashed }) => outRecord(path, hashed));
    await ctx.lock.record(stage, lockEntryFor(evaluation.fingerprint, outs));
    crashPoint('lock entry recorded');
  } catch (error) {
    transaction.rollback();
    throw error;
  }
  await transaction.commit();
}

async function executeStage(
  ctx: RunContext,
  stage: string,
  evaluation: StageEvaluation,
  reasons: StageReason[],
  started: number,
): Promise<StageResult> {
  const { workspace } = ctx;
  const config = workspace.stage(stage);
  const seconds = () => (Date.now() - started) / 1000;
  const work = join(workspace.dotDir, 'tmp', ctx.runId, stage);
  const absOuts = config.outs.map((out) => workspace.absolute(out));
  const logFile = join(workspace.dotDir, 'logs', stage, `${ctx.runId}.log`);
  const log = relative(workspace.root, logFile);
  const transaction = new OutTransaction(work, absOuts);
  const cacheDir = workspace.stageCacheDir(stage);
  mkdirSync(cacheDir, { recursive: true });
  // The run record's start, for `pipeline gc`: compared with the mtimes of what the stage writes to its cache. Stamped
  // next to the stage's folder, not in it (what is inside is the stage's), so a kill cannot leave the marker there.
  const startedOnDisk = filesystemNow(dirname(cacheDir));
  const options: StageProcessOptions = {
    stage,
    root: workspace.root,
    runId: ctx.runId,
    logFile,
    signal: ctx.signal,
    env: {
      PIPELINE_STAGE: stage,
      PIPELINE_ROOT: workspace.root,
      PIPELINE_RUN_ID: ctx.runId,
      PIPELINE_LOG: logFile,
      PIPELINE_VERBOSE: ctx.verbose ? '1' : '',
      PIPELINE_CACHE_DIR: cacheDir,
    },
    onOutput: (text) => ctx.reporter.stageOutput(stage, text),
    onProgress: (progress) => ctx.reporter.stageProgress(stage, progress),
    recordGroupIn: work,
    executor: ctx.executor ?? localExecutor,
    resources: config.resources,
  };
  ctx.reporter.stageStarted(stage, reasons, log);
  const fail = (failure: StageFailure): StageResult => {
    transaction.rollback();
    return { stage, action: 'failed', reasons, seconds: seconds(), log, failure };
  };
  let outs: OutRecord[];
  let figures: RunFigures | undefined;
  try {
    let produced: string[];
    let outcome;
    if (config.module !== undefined) {
      // Module stages write to temp paths; the old outs stay untouched until success.
      produced = absOuts.map((out, i) => join(work, `out-${i}`, basename(out)));
      for (const path of produced) mkdirSync(dirname(path), { recursive: true });
      // Exactly what was hashed (a glob is not expanded again): the lock and the run cache describe what the stage read.
      const deps = evaluation.fingerprint.inputs;
      // ctx.root is the project folder, even in a sweep variant (whose commands run in the variant's folder).
      // The remote's settings (never the token: the stage reads it from the variable they name), unless it already failed.
      const remote = workspace.remote?.store.usable ? { remote: workspace.remote.store.settings } : {};
      const spec = {
        stage,
        root: workspace.pipeline.root,
        module: workspace.absolute(config.module),
        moduleLabel: config.module,
        params: config.params,
        deps,
        outs: produced,
        cacheDir,
        ...remote,
      };
      outcome =
        config.shards > 1
          ? await runShardedModule(
              spec,
              work,
              options,
              config.shards,
              options.executor.shardConcurrency(ctx.jobs, config.shards),
            )
          : await runModule(spec, work, options);
    } else {
      // A command writes to the declared paths itself: move the old outs aside first, put them back on failure.
      transaction.moveAsideExisting();
      produced = absOuts;
      outcome = await runCommand(config.cmd ?? '', options);
    }
    if (!outcome.ok)
      return fail(
        outcome.failure.kind === 'interrupted' && !outcome.failure.detail ? interruption(ctx.signal) : outcome.failure,
      );
    const missing = config.outs.filter((_, i) => !existsSync(produced[i]));
    if (missing.length > 0) return fail({ kind: 'missing-outs', paths: missing });
    if (config.module !== undefined) transaction.install(produced);
    const hashedOuts = await workspace.hashOuts(config);
    // The lock keeps the deps as they were handed over, so a dep that changed meanwhile makes the next run run the stage
    // again; the run cache must not file this result under inputs it may not have read.
    const changed = await workspace.depsChangedSince(evaluation.fingerprint, config);
    if (changed.length > 0)
      ctx.reporter.notice(
        `stage ${stage}: dep ${changed.join(', ')} changed while the stage waited or ran; its outs are kept but not cached, and the next run will run it again`,
      );
    else if (config.cache) {
      workspace.runCache.save(stage, evaluation.fingerprint.hash, hashedOuts, startedOnDisk);
      workspace.remote?.queueUpload(evaluation.fingerprint.hash);
    }
    outs = hashedOuts.map(({ path, hashed }) => outRecord(path, hashed));
    await ctx.lock.record(stage, lockEntryFor(evaluation.fingerprint, outs));
    figures = outcome.figures;
    crashPoint('lock entry recorded');
  } catch (error) {
    return fail({ kind: 'engine-error', message: (error as Error).message });
  }
  await transaction.commit();
  return {
    stage,
    action: 'ran',
    reasons,
    seconds: seconds(),
    log,
    outsUnchanged: sameOuts(evaluation.outs, outs),
    ...(figures ? { figures } : {}),
  };
}

/** Every out there before the stage ran, and byte-equal to what it left. */
function sameOuts(before: OutRecord[], after: OutRecord[]): boolean {
  return (
    before.length === after.length &&
    before.every((out, i) => out.hash !== MISSING_HASH && out.path === after[i].path && out.hash === after[i].hash)
  );
}
