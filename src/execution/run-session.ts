/**
 * The run lifecycle, for every command that executes stages (`run`, `sweep`):
 * the project's run lock (one run at a time), Ctrl-C / SIGTERM turned into an
 * abort of the running stages instead of an exit (so their previous outs are
 * put back before the process ends), recovery of what a killed run left
 * behind, and, for `run`, plan → stages → lock entries → temp cleanup → run
 * record. Commands parse flags and print; they decide nothing here.
 */
import { rmSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { removeDeadTemps } from '../cache/atomic-write.ts';
import { LockWriter } from '../cache/lock-file.ts';
import { isPipelineError } from '../errors.ts';
import { gitStateInBackground } from '../experiments/git-state.ts';
import { appendRun, recordOf } from '../experiments/run-record.ts';
import { cancelLeftoverSlurmJobs, SlurmExecutor } from './executors/slurm.ts';
import { OutTransaction } from './out-transaction.ts';
import type { ProjectSession } from './project-session.ts';
import { newRunId, runStages } from './run-engine.ts';
import { RunLock } from './run-lock.ts';
import { assessStages, type StageStatus } from './stage-status.ts';
import type { RunReporter, StageResult } from './stage-result.ts';

export type RunSessionOpening = { ok: true; session: RunSession } | { ok: false; busy: string };

export class RunSession {
  private readonly controller = new AbortController();
  private interrupted: NodeJS.Signals | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (!this.interrupted) process.stderr.write(`\n${signal}: stopping the running stages and restoring their previous outs…\n`);
    this.interrupted = signal;
    this.controller.abort();
  };

  private constructor(private readonly lock: RunLock) {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /**
   * Takes `.pipeline/run.lock` under `dotDir` (a run already in progress is
   * `{ busy: message }`), then clears up after a run that was killed outright:
   * its cluster jobs are cancelled, its stage processes stopped, and the outs
   * it had moved aside put back. `note` hears about each.
   */
  static open(dotDir: string, note: (message: string) => void): RunSessionOpening {
    let lock: RunLock;
    try {
      lock = RunLock.acquire(join(dotDir, 'run.lock'), note);
    } catch (error) {
      if (isPipelineError(error, 'locked')) return { ok: false, busy: error.message };
      throw error;
    }
    const session = new RunSession(lock);
    try {
      recoverInterruptedRun(join(dotDir, 'tmp'), note);
    } catch (error) {
      session.close();
      throw error;
    }
    return { ok: true, session };
  }

  /** Aborted on the first Ctrl-C or SIGTERM. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get interruptedBy(): NodeJS.Signals | undefined {
    return this.interrupted;
  }

  close(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.lock.release();
  }
}

/** Jobs of a killed run go first: they must be gone before its outs are put back. */
function recoverInterruptedRun(tmpRoot: string, note: (message: string) => void): void {
  const shown = (path: string) => relative(process.cwd(), path) || path;
  const leftoverJobs = cancelLeftoverSlurmJobs(tmpRoot);
  if (leftoverJobs.length > 0) note(`cancelled Slurm job${leftoverJobs.length === 1 ? '' : 's'} ${leftoverJobs.map((j) => `${j.jobId} (${j.stage})`).join(', ')} left by an interrupted run`);
  const recovered = OutTransaction.recoverInterrupted(tmpRoot);
  for (const { stage, pids } of recovered.stopped) note(`stopped stage ${stage}'s leftover process${pids.length === 1 ? '' : 'es'} from an interrupted run (PID ${pids.join(', ')})`);
  if (recovered.restored.length > 0) note(`put back previous outs left aside by an interrupted run: ${recovered.restored.map(shown).join(', ')}`);
  for (const { dir, backups } of recovered.kept) {
    note(`kept ${shown(dir)}: an interrupted run moved outs aside there (${backups.join(', ')}) but its journal cannot be read, so where they belong is unknown; move them back by hand, then delete the folder`);
  }
}

export interface RunRequest {
  project: ProjectSession;
  /** Stages to execute even when up to date (no restore either). */
  forced: Set<string>;
  jobs: number;
  executor: 'local' | 'slurm';
  /** A failed stage cancels the others (Slurm's default; --keep-going turns it off). */
  failFast: boolean;
  verbose: boolean;
  /** The --set values, for the run record. */
  set: string[];
  /** How to show the run, chosen once the plan says whether anything will execute. */
  reporter(plan: StageStatus[]): Promise<RunReporter>;
}

export type RunOutcome =
  | { ok: false; busy: string }
  | {
      ok: true;
      results: StageResult[];
      /** The signal that interrupted the run, if one did. */
      interruptedBy?: NodeJS.Signals;
      /** Problems that did not stop the run (the run record could not be written). */
      warnings: string[];
    };

/** One `pipeline run`: lock → recover → plan → stages → run record. */
export async function executeRun(request: RunRequest): Promise<RunOutcome> {
  const { workspace, graph, selected, pipeline } = request.project;
  const notices: string[] = [];
  const opened = RunSession.open(workspace.dotDir, (message) => notices.push(message));
  if (!opened.ok) return opened;
  const { session } = opened;
  // Under the run lock no other run writes these: a temp left beside the lock file or in .pipeline/ is a killed run's.
  removeDeadTemps(dirname(workspace.lockFile), `${basename(workspace.lockFile)}.tmp-`);
  removeDeadTemps(workspace.dotDir);
  const git = gitStateInBackground(pipeline.root);
  try {
    const plan = await assessStages(workspace, graph, selected, request.forced);
    const reporter = await request.reporter(plan);
    for (const message of notices) reporter.notice(message);
    const runId = newRunId();
    const started = new Date();
    const results = await runStages(
      {
        workspace,
        graph,
        lock: new LockWriter(workspace.lockFile, workspace.lock, graph.order),
        reporter,
        runId,
        jobs: request.jobs,
        forced: request.forced,
        signal: session.signal,
        verbose: request.verbose,
        ...(request.executor === 'slurm' ? { executor: new SlurmExecutor(pipeline.executor, join(workspace.dotDir, 'tmp', runId)), failFast: request.failFast } : {}),
        preassessed: new Map(plan.map((s) => [s.stage, s.evaluation])),
      },
      selected,
    );
    rmSync(join(workspace.dotDir, 'tmp', runId), { recursive: true, force: true });
    const warnings: string[] = [];
    try {
      appendRun(workspace.dotDir, await recordOf(workspace, { id: runId, started, results, set: request.set, git: await git }));
    } catch (error) {
      warnings.push(`could not write the run record: ${(error as Error).message}`);
    }
    return { ok: true, results, warnings, ...(session.interruptedBy ? { interruptedBy: session.interruptedBy } : {}) };
  } finally {
    session.close();
  }
}
