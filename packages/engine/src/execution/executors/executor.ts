import type { ProcessOutcome, StageProcessOptions } from '../stage-process.ts';

/** One prepared stage job: a program to run in the project root, with its environment and log (in `options`). */
export interface StageJob {
  file: string;
  args: string[];
  /** A module stage run locally talks to the engine over IPC (progress, and it ends itself when the engine dies). */
  ipc: boolean;
  /** For the log header and messages: `$ cmd` or `module stages/x.ts`. */
  what: string;
  /** Where a module stage without IPC writes its progress (see module-runner.ts). */
  progressFile?: string;
  options: StageProcessOptions;
}

/**
 * Where stage processes run: local child processes or cluster jobs. `run`
 * submits the job and resolves when it has ended; aborting
 * `job.options.signal` cancels it (and `run` still resolves only once it is
 * gone, so the engine can restore outs safely).
 */
export interface Executor {
  readonly name: 'local' | 'slurm';
  run(job: StageJob): Promise<ProcessOutcome>;
  /** How many shards of one stage run at once, given `--jobs`. */
  shardConcurrency(jobs: number, shards: number): number;
}
