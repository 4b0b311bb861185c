/**
 * The run lifecycle, for every command that executes stages (`run`, `sweep`):
 * the project's run lock (one run at a time), Ctrl-C / SIGTERM turned into an
 * abort of the running stages instead of an exit (so their previous outs are
 * put back before the process ends), and recovery of what a killed run left
 * behind. What a run does inside it is experiments/execute-run.ts and
 * experiments/execute-sweep.ts; what the user is told goes through the hooks.
 */
import { join, relative } from 'node:path';
import { isPipelineError } from '../errors.ts';
import { cancelLeftoverSlurmJobs } from './executors/slurm.ts';
import { endFolderPrefetch } from '../fingerprint/folder-prefetch.ts';
import { OutTransaction } from './out-transaction.ts';
import { RunLock } from './run-lock.ts';

export type RunSessionOpening = { ok: true; session: RunSession } | { ok: false; busy: string };

/** What a session tells its caller, which decides how (and whether) the user hears it. */
export interface RunSessionHooks {
  /** What was cleared up after a killed run. */
  note: (message: string) => void;
  /** The first Ctrl-C or SIGTERM: the running stages are being stopped and their previous outs put back. */
  interrupted: (signal: NodeJS.Signals) => void;
}

export class RunSession {
  private readonly controller = new AbortController();
  private interrupted: NodeJS.Signals | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (!this.interrupted) this.hooks.interrupted(signal);
    this.interrupted = signal;
    this.controller.abort();
  };

  private constructor(
    private readonly lock: RunLock,
    private readonly hooks: RunSessionHooks,
  ) {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /**
   * Takes `.pipeline/run.lock` under `dotDir` (a run already in progress is
   * `{ busy: message }`), then clears up after a run that was killed outright:
   * its cluster jobs are cancelled, its stage processes stopped, and the outs
   * it had moved aside put back. `hooks.note` hears about each.
   */
  static open(dotDir: string, hooks: RunSessionHooks): RunSessionOpening {
    let lock: RunLock;
    try {
      lock = RunLock.acquire(join(dotDir, 'run.lock'), hooks.note);
    } catch (error) {
      if (isPipelineError(error, 'locked')) return { ok: false, busy: error.message };
      throw error;
    }
    const session = new RunSession(lock, hooks);
    try {
      recoverInterruptedRun(join(dotDir, 'tmp'), hooks.note);
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
  if (leftoverJobs.length > 0)
    note(
      `cancelled Slurm job${leftoverJobs.length === 1 ? '' : 's'} ${leftoverJobs.map((j) => `${j.jobId} (${j.stage})`).join(', ')} left by an interrupted run`,
    );
  const recovered = OutTransaction.recoverInterrupted(tmpRoot);
  if (recovered.restored.length > 0) endFolderPrefetch(); // outs put back: folders scanned at the start may differ
  for (const { stage, pids } of recovered.stopped)
    note(
      `stopped stage ${stage}'s leftover process${pids.length === 1 ? '' : 'es'} from an interrupted run (PID ${pids.join(', ')})`,
    );
  if (recovered.restored.length > 0)
    note(`put back previous outs left aside by an interrupted run: ${recovered.restored.map(shown).join(', ')}`);
  for (const { dir, backups } of recovered.kept) {
    note(
      `kept ${shown(dir)}: an interrupted run moved outs aside there (${backups.join(', ')}) but its journal cannot be read, so where they belong is unknown; move them back by hand, then delete the folder`,
    );
  }
}
