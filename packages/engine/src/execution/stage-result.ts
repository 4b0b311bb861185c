import type { Progress, RunFigures } from '../contract.ts';
import type { StageFailure } from './stage-failure.ts';
import type { StageReason } from './stage-reason.ts';

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
  reasons: StageReason[];
  seconds: number;
  /** Project-relative log path, for stages that started a process. */
  log?: string;
  failure?: StageFailure;
  /** A stage that ran left every out byte-equal to what was there before: nothing downstream changes. */
  outsUnchanged?: boolean;
  /** What a module stage reported about this run of itself (`ctx.report`): timings, rates; never part of its outs. */
  figures?: RunFigures;
}

/** Everything the engine tells the user while it works; logging/ implements it. */
export interface RunReporter {
  /** The stages this run considers, in topological order. Called after planning, before any stage starts. */
  begin(stages: string[]): void;
  stageStarted(stage: string, reasons: StageReason[], log: string): void;
  stageOutput(stage: string, text: string): void;
  stageProgress(stage: string, progress: Progress): void;
  stageFinished(result: StageResult): void;
  /** Out-of-band notices (stale lock cleared, outs recovered). */
  notice(message: string): void;
  end(results: StageResult[]): Promise<void>;
}
