/** Config and graph phases in one call: what every command that needs the graph starts with. */
import { loadPipeline, type LoadOptions } from '../config/load.ts';
import type { Pipeline } from '../config/pipeline.ts';
import type { Diagnostic } from '../errors.ts';
import { buildGraph } from './build.ts';
import type { Graph } from './graph.ts';

export type LoadGraphResult =
  { ok: true; pipeline: Pipeline; graph: Graph; warnings: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };

export async function loadGraph(file: string, opts: LoadOptions = {}): Promise<LoadGraphResult> {
  const loaded = await loadPipeline(file, opts);
  if (!loaded.ok) return loaded;
  const built = await buildGraph(loaded.pipeline);
  if (!built.ok) return { ok: false, diagnostics: [...loaded.warnings, ...built.diagnostics] };
  return { ok: true, pipeline: loaded.pipeline, graph: built.graph, warnings: loaded.warnings };
}
