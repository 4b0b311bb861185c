/**
 * What every command that executes stages (`run`, `sweep`) holds while it
 * does: the project's run lock (one run at a time), and Ctrl-C / SIGTERM
 * turned into an abort of the running stages instead of an exit, so their
 * previous outs are put back before the process ends.
 */
import { join } from 'node:path';
import { RunLock, RunLockBusyError } from './run-lock.ts';

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

  /** Takes `.pipeline/run.lock` under `dotDir`; a run already in progress is `{ busy: message }`. */
  static open(dotDir: string, note: (message: string) => void): RunSessionOpening {
    try {
      return { ok: true, session: new RunSession(RunLock.acquire(join(dotDir, 'run.lock'), note)) };
    } catch (error) {
      if (error instanceof RunLockBusyError) return { ok: false, busy: error.message };
      throw error;
    }
  }

  /** Aborted on the first Ctrl-C or SIGTERM. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get interruptedBy(): NodeJS.Signals | undefined {
    return this.interrupted;
  }

  /** The exit code an interrupted run ends with (130 for Ctrl-C, 143 for SIGTERM), else undefined. */
  get interruptExitCode(): number | undefined {
    return this.interrupted === undefined ? undefined : this.interrupted === 'SIGINT' ? 130 : 143;
  }

  close(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.lock.release();
  }
}
