/** The part of the build graph the engine needs: a topological order and direct upstream edges. */
export interface StageGraph {
  /** Every stage, upstream before downstream. */
  order: string[];
  /** Stages whose outs this stage reads (direct edges only). */
  upstream(stage: string): string[];
}

export type ForceMode = 'none' | 'targets' | 'upstream' | 'all';

/** Targets plus everything upstream of them, in topological order; no targets means every stage. */
export function selectStages(graph: StageGraph, targets: string[]): string[] {
  if (targets.length === 0) return [...graph.order];
  const wanted = transitiveUpstream(graph, targets);
  return graph.order.filter((stage) => wanted.has(stage));
}

/** The stages and all their ancestors (inclusive). */
export function transitiveUpstream(graph: StageGraph, stages: string[]): Set<string> {
  const seen = new Set<string>();
  const pending = [...stages];
  while (pending.length > 0) {
    const stage = pending.pop()!;
    if (seen.has(stage)) continue;
    seen.add(stage);
    pending.push(...graph.upstream(stage));
  }
  return seen;
}

/**
 * Which selected stages re-execute regardless of their state.
 * --force: the named targets only (all stages when none are named);
 * --force-upstream: targets and everything upstream; --force-all: every selected stage.
 */
export function forcedStages(graph: StageGraph, targets: string[], selected: string[], mode: ForceMode): Set<string> {
  switch (mode) {
    case 'none':
      return new Set();
    case 'targets':
      return new Set(targets.length > 0 ? targets : selected);
    case 'upstream':
    case 'all':
      return new Set(mode === 'upstream' && targets.length > 0 ? transitiveUpstream(graph, targets) : selected);
  }
}
