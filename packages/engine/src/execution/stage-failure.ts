/**
 * How a stage failed, as a value: what the process or cluster job reported,
 * or what the engine found wrong around it; and its words (`describeFailure`),
 * for the stage log's last line, the result line, `--json` and run records.
 * The words live here, not in logging/, because executors write them into the
 * log and execution sits below logging.
 */
import { EXIT_NEVER_SETTLED } from '../exit-codes.ts';

export type StageFailure =
  | { kind: 'missing-deps'; paths: string[] }
  | { kind: 'missing-outs'; paths: string[] }
  | { kind: 'exit'; code: number | string; job?: ClusterJob }
  | { kind: 'killed'; signal: string; job?: ClusterJob }
  | { kind: 'could-not-start'; message: string }
  /** EXIT_NEVER_SETTLED (exit-codes.ts): the module's run() returned a promise that never settles. */
  | { kind: 'never-settled'; job?: ClusterJob }
  /** Exit 0 without the runner's word that run() resolved (process.exit called halfway). */
  | { kind: 'exited-early' }
  /** The stage's own input was wrong (a bad value, a missing file): its message, one line. */
  | { kind: 'user-error'; message: string }
  | { kind: 'interrupted'; detail?: string }
  | { kind: 'cancelled'; failedStage: string }
  | { kind: 'submit-failed'; message: string }
  /** A cluster job ended in a state other than COMPLETED or FAILED (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL…). */
  | { kind: 'job-ended'; job: ClusterJob; detail?: string }
  | { kind: 'job-vanished'; jobId: string }
  | { kind: 'shard'; index: number; count: number; failure: StageFailure; log: string }
  /** The engine itself could not finish the stage (disk full, permissions…). */
  | { kind: 'engine-error'; message: string };

export interface ClusterJob {
  id: string;
  state: string;
}

export function describeFailure(failure: StageFailure): string {
  const onJob = (text: string, job?: { id: string; state: string }) =>
    job ? `${text} (Slurm job ${job.id} ${job.state})` : text;
  switch (failure.kind) {
    case 'missing-deps':
      return `missing dep: ${failure.paths.join(', ')} (no stage made it and it does not exist)`;
    case 'missing-outs':
      return `did not produce out ${failure.paths.join(', ')}`;
    case 'exit':
      return onJob(`exit ${failure.code}`, failure.job);
    case 'killed':
      return onJob(`killed by ${failure.signal}`, failure.job);
    case 'could-not-start':
      return `could not start: ${failure.message}`;
    case 'never-settled':
      return onJob(`exit ${EXIT_NEVER_SETTLED}: run() returned a promise that never settles`, failure.job);
    case 'exited-early':
      return 'exited 0 before run() finished (process.exit called?)';
    case 'user-error':
    case 'engine-error':
      return failure.message;
    case 'interrupted':
      return failure.detail ? `interrupted (${failure.detail})` : 'interrupted';
    case 'cancelled':
      return `cancelled: stage ${failure.failedStage} failed`;
    case 'submit-failed':
      return `sbatch failed: ${failure.message}`;
    case 'job-ended':
      return `Slurm job ${failure.job.id} ${failure.job.state}${failure.detail ? ` (${failure.detail})` : ''}`;
    case 'job-vanished':
      return `Slurm job ${failure.jobId} vanished from the queue (no state known)`;
    case 'shard':
      return `shard ${failure.index + 1}/${failure.count} ${describeFailure(failure.failure)} — shard log: ${failure.log}`;
  }
}
