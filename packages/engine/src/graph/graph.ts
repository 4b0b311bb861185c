/**
 * The build graph: stages as nodes, an edge wherever one stage's dep lies in
 * (or contains) another stage's out. Plain ordered data; queries are functions.
 */
import type { Pipeline } from '../config/pipeline.ts';

export interface Edge {
  /** The producing stage (upstream). */
  from: string;
  /** The consuming stage (downstream). */
  to: string;
  /** The out of `from`… */
  out: string;
  /** …that the dep of `to` overlaps. */
  dep: string;
}

export interface Graph {
  pipeline: Pipeline;
  /** Every stage in topological order; among stages ready at the same time, declaration order. */
  order: string[];
  /** Edges in order of the consuming stage's deps. */
  edges: Edge[];
  /** Direct upstream stages of each stage, in topological order. */
  upstream: Map<string, string[]>;
  /** Direct downstream stages of each stage, in topological order. */
  downstream: Map<string, string[]>;
}

/** The targets and everything upstream of them, in topological order (all stages when `targets` is empty). */
export function upstreamOf(graph: Graph, targets: readonly string[]): string[] {
  if (targets.length === 0) return [...graph.order];
  return closure(graph, targets, graph.upstream);
}

/** Everything downstream of `stage` (not the stage itself), in topological order. */
export function downstreamOf(graph: Graph, stage: string): string[] {
  return closure(graph, [stage], graph.downstream).filter((name) => name !== stage);
}

function closure(graph: Graph, start: readonly string[], next: Map<string, string[]>): string[] {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...(next.get(name) ?? []));
  }
  return graph.order.filter((name) => seen.has(name));
}
