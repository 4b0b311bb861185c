/**
 * How a stage failed, as a value: what the process or cluster job reported,
 * or what the engine found wrong around it. `logging/reason-text.ts` renders
 * it for the result line, the log and `--json`.
 */
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
