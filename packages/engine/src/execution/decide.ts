/**
 * The one place that decides what happens to a stage: up to date (skip),
 * restore from the run cache, or run. `run`, `status`, `--dry-run` and
 * `sweep` all ask here, so what they say and what a run does cannot drift.
 */
import type { CachedRun, RunCache } from '../cache/run-cache.ts';
import type { RemoteRunCache } from '../cache/remote-run-cache.ts';
import type { ResolvedStage } from '../config/pipeline.ts';
import type { StageReason } from './stage-reason.ts';
import type { StageEvaluation } from './workspace.ts';

export type Decision =
  | { action: 'fresh' }
  /** `remote`: the run is on the remote cache only; its objects are fetched before the restore. */
  | { action: 'restore'; reasons: StageReason[]; cached: CachedRun; remote?: true }
  | { action: 'run'; reasons: StageReason[] };

export interface DecisionInput {
  stage: ResolvedStage;
  /** The stage's fingerprint and how it differs from the lock (Workspace.evaluate). */
  evaluation: StageEvaluation;
  /** --force (or its upstream/all forms) named this stage: run it, not even a restore. */
  forced: boolean;
  runCache: RunCache;
  /** Asked on a local miss. */
  remote?: RemoteRunCache;
  /**
   * Planning only: upstream stages that will run or be restored before this one.
   * A run decides after they have finished, so it never passes this.
   */
  upstream?: { running: string[]; restored: string[]; predicted: boolean };
}

export async function decide({
  stage,
  evaluation,
  forced,
  runCache,
  remote,
  upstream,
}: DecisionInput): Promise<Decision> {
  const reasons: StageReason[] = [];
  if (forced) reasons.push({ kind: 'forced' });
  if (stage.alwaysRun) reasons.push({ kind: 'always-run' });
  reasons.push(...evaluation.reasons);
  const running = upstream?.running ?? [];
  // A predicted evaluation already saw the restored outs; otherwise say that they will change.
  const restored = upstream && !upstream.predicted ? upstream.restored : [];
  for (const up of running) reasons.push({ kind: 'upstream', stage: up, state: 'will-run' });
  for (const up of restored) reasons.push({ kind: 'upstream', stage: up, state: 'will-be-restored' });
  if (reasons.length === 0) return { action: 'fresh' };

  // Deps not known yet (an upstream stage runs first) cannot be looked up; neither can what must execute.
  const lookup = stage.cache && !stage.alwaysRun && !forced && running.length === 0 && restored.length === 0;
  const cached = lookup ? await runCache.lookup(evaluation.fingerprint.hash) : undefined;
  if (cached) return { action: 'restore', reasons, cached };
  const remoteRun = lookup && remote ? await remote.lookup(evaluation.fingerprint.hash) : undefined;
  return remoteRun ? { action: 'restore', reasons, cached: remoteRun, remote: true } : { action: 'run', reasons };
}
