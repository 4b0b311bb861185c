import type { Pipeline } from '../config/pipeline.ts';
import type { Diagnostic } from '../errors.ts';
import { diagnostic, isPipelineError } from '../errors.ts';
import { loadGraph } from '../graph/load-graph.ts';
import { resolveTargets } from '../graph/targets.ts';
import type { StageGraph } from './stage-selection.ts';
import { selectStages } from './stage-selection.ts';
import { Workspace } from './workspace.ts';

/** Everything `run` and `status` start from: the loaded pipeline, its graph, the targets and the workspace. */
export interface ProjectSession {
  pipeline: Pipeline;
  graph: StageGraph;
  targets: string[];
  /** Targets plus their upstream, in topological order (every stage when no targets). */
  selected: string[];
  workspace: Workspace;
  warnings: Diagnostic[];
}

export async function openProject(
  file: string,
  set: string[],
  targetNames: string[],
): Promise<{ ok: true; session: ProjectSession } | { ok: false; diagnostics: Diagnostic[] }> {
  const loaded = await loadGraph(file, { set });
  if (!loaded.ok) return loaded;
  const resolved = resolveTargets(loaded.graph, targetNames);
  if (!resolved.ok) return resolved;
  const { order, upstream } = loaded.graph;
  const graph: StageGraph = { order, upstream: (stage) => upstream.get(stage) ?? [] };
  let workspace: Workspace;
  try {
    workspace = await Workspace.open(loaded.pipeline);
  } catch (error) {
    if (isPipelineError(error, 'lock-file') || isPipelineError(error, 'lock-unreadable'))
      return { ok: false, diagnostics: [diagnostic(error.reason, error.message)] };
    throw error;
  }
  return {
    ok: true,
    session: {
      pipeline: loaded.pipeline,
      graph,
      targets: resolved.targets,
      selected: selectStages(graph, resolved.targets),
      workspace,
      warnings: [
        ...loaded.warnings,
        ...workspace.lockWarnings.map((message): Diagnostic => ({ severity: 'warning', reason: 'lock-file', message })),
      ],
    },
  };
}
