import type { CachedOut } from '../cache/run-cache.ts';
import { decide } from './decide.ts';
import { predictDeps } from './restore-prediction.ts';
import type { StageReason } from './stage-reason.ts';
import type { StageEvaluation, Workspace } from './workspace.ts';
import type { StageGraph } from './stage-selection.ts';

export type StageState = 'up-to-date' | 'stale' | 'restorable';

export interface StageStatus {
  stage: string;
  state: StageState;
  reasons: StageReason[];
  evaluation: StageEvaluation;
  /** Restorable from the remote cache (not the local one). */
  remote?: boolean;
}

/**
 * What a run would do, without doing it: each selected stage, in order, is
 * up to date, restorable from the run cache, or stale. A stage below one
 * that will run is stale too, since its deps are about to change. Below a
 * stage that will be restored, the restored outs are known from the cache
 * record, so the stage is judged on them, as the run will judge it.
 */
export async function assessStages(
  workspace: Workspace,
  graph: StageGraph,
  selected: string[],
  forced: Set<string>,
): Promise<StageStatus[]> {
  const statuses = new Map<string, StageStatus>();
  /** Outs that restores planned so far will put back, with what they will hold. */
  const restoring: CachedOut[] = [];
  for (const stage of selected) {
    const ups = graph.upstream(stage);
    const running = ups.filter((up) => statuses.get(up)?.state === 'stale');
    const restored = ups.filter((up) => statuses.get(up)?.state === 'restorable');
    let evaluation: StageEvaluation | undefined;
    if (running.length === 0 && restored.length > 0) {
      const predicted = predictDeps(workspace.stage(stage).deps, restoring);
      if (predicted) evaluation = await workspace.evaluate(stage, predicted);
    }
    const predicted = evaluation !== undefined;
    evaluation ??= await workspace.evaluate(stage);
    const decision = await decide({
      stage: workspace.stage(stage),
      evaluation,
      forced: forced.has(stage),
      runCache: workspace.runCache,
      remote: workspace.remote,
      upstream: { running, restored, predicted },
    });
    if (decision.action === 'restore') restoring.push(...decision.cached.outs);
    const state: StageState =
      decision.action === 'fresh' ? 'up-to-date' : decision.action === 'restore' ? 'restorable' : 'stale';
    statuses.set(stage, {
      stage,
      state,
      reasons: decision.action === 'fresh' ? [] : decision.reasons,
      evaluation,
      ...(decision.action === 'restore' && decision.remote ? { remote: true } : {}),
    });
  }
  workspace.saveState();
  return selected.map((stage) => statuses.get(stage)!);
}
