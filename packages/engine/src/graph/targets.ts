/** Command-line stage names → stages of the graph, with "did you mean" for typos. */
import { didYouMean } from '../config/did-you-mean.ts';
import { diagnostic, type Diagnostic } from '../errors.ts';
import type { Graph } from './graph.ts';

export type TargetsResult = { ok: true; targets: string[] } | { ok: false; diagnostics: Diagnostic[] };

/** Checks every name; returns them deduplicated in topological order. */
export function resolveTargets(graph: Graph, names: readonly string[]): TargetsResult {
  const diagnostics = names
    .filter((name) => !graph.pipeline.stages.has(name))
    .map((name) =>
      diagnostic(
        'unknown-target',
        `unknown stage "${name}"`,
        undefined,
        didYouMean(name, graph.order) ?? `stages: ${graph.order.join(', ')}`,
      ),
    );
  if (diagnostics.length) return { ok: false, diagnostics };
  return { ok: true, targets: graph.order.filter((stage) => names.includes(stage)) };
}
