import type { Progress } from '../contract.ts';

/** What happened to a stage in a run (or, for a dry run, what would). */
export type StageAction =
  | 'ran'
  | 'skipped'
  | 'restored'
  | 'failed'
  /** Not attempted: an upstream stage failed, or the run was interrupted first. */
  | 'not-run'
  | 'would-run'
  | 'would-restore';

export interface StageResult {
  stage: string;
  action: StageAction;
  reasons: string[];
  seconds: number;
  /** Project-relative log path, for stages that started a process. */
  log?: string;
  /** Short failure cause, e.g. "exit 1" or "did not produce out artifacts/x". */
  error?: string;
}

/** Everything the engine tells the user while it works; implementations render it. */
export interface RunReporter {
  /** The stages this run considers, in topological order. */
  begin(stages: string[]): void;
  stageStarted(stage: string, reasons: string[], log: string): void;
  stageOutput(stage: string, text: string): void;
  stageProgress(stage: string, progress: Progress): void;
  stageFinished(result: StageResult): void;
  /** Out-of-band notices (stale lock cleared, outs recovered). */
  notice(message: string): void;
  end(results: StageResult[]): Promise<void>;
}
