import type { StageEvaluation, Workspace } from './workspace.ts';
import type { StageGraph } from './stage-selection.ts';

export type StageState = 'up-to-date' | 'stale' | 'restorable';

export interface StageStatus {
  stage: string;
  state: StageState;
  reasons: string[];
  evaluation: StageEvaluation;
}

/**
 * What a run would do, without doing it: each selected stage, in order, is
 * up to date, restorable from the run cache, or stale. A stage below one
 * that will change is stale too, since its deps are about to change.
 */
export async function assessStages(
  workspace: Workspace,
  graph: StageGraph,
  selected: string[],
  forced: Set<string>,
): Promise<StageStatus[]> {
  const statuses = new Map<string, StageStatus>();
  for (const stage of selected) {
    const evaluation = await workspace.evaluate(stage);
    const reasons = [...evaluation.reasons];
    if (forced.has(stage)) reasons.unshift('forced');
    for (const up of graph.upstream(stage)) {
      const upState = statuses.get(up)?.state;
      if (upState === 'stale') reasons.push(`upstream stage ${up} will run`);
      else if (upState === 'restorable') reasons.push(`upstream stage ${up} will be restored`);
    }
    let state: StageState = reasons.length === 0 ? 'up-to-date' : 'stale';
    const config = workspace.stage(stage);
    const upstreamChanging = reasons.some((r) => r.startsWith('upstream stage '));
    if (state === 'stale' && config.cache && !config.alwaysRun && !forced.has(stage) && !upstreamChanging) {
      if (await workspace.runCache.lookup(evaluation.fingerprint.hash)) state = 'restorable';
    }
    statuses.set(stage, { stage, state, reasons, evaluation });
  }
  workspace.saveState();
  return selected.map((stage) => statuses.get(stage)!);
}
