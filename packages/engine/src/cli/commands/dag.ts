/** `pipeline dag`: draw the stage graph. */
import { loadGraph } from '../../graph/load-graph.ts';
import { upstreamOf } from '../../graph/graph.ts';
import { renderDot, renderJson, renderMermaid, renderText } from '../../graph/render.ts';
import { resolveTargets } from '../../graph/targets.ts';
import type { Graph } from '../../graph/graph.ts';
import { parseOptions, printDiagnostics } from '../options.ts';

const usage = `Usage: pipeline dag [STAGE…] [options]

Draws the stage graph in run order. With stages, only they and their upstream.

Options:
  --mermaid             Mermaid flowchart (paste into Markdown)
  --dot                 Graphviz DOT (pipe into \`dot -Tsvg\`)`;

export default async function dag(argv: string[]): Promise<number> {
  const options = parseOptions(argv, {
    usage,
    allowPositionals: true,
    options: { mermaid: { type: 'boolean' }, dot: { type: 'boolean' } },
  });
  if (!options.ok) return options.exitCode;
  if (options.values.mermaid && options.values.dot) {
    process.stderr.write('error: choose one of --mermaid and --dot\n');
    return 2;
  }
  const result = await loadGraph(options.file, { set: options.set });
  if (!result.ok) {
    printDiagnostics(result.diagnostics);
    return 1;
  }
  printDiagnostics(result.warnings);
  let graph = result.graph;
  if (options.positionals.length) {
    const targets = resolveTargets(graph, options.positionals);
    if (!targets.ok) {
      printDiagnostics(targets.diagnostics);
      return 1;
    }
    graph = subgraph(graph, upstreamOf(graph, targets.targets));
  }
  const text = options.json
    ? JSON.stringify(renderJson(graph), null, 2)
    : options.values.mermaid
      ? renderMermaid(graph)
      : options.values.dot
        ? renderDot(graph)
        : renderText(graph);
  process.stdout.write(`${text}\n`);
  return 0;
}

/** The graph restricted to some stages (edges between them only). */
function subgraph(graph: Graph, keep: string[]): Graph {
  const kept = new Set(keep);
  const filter = (map: Map<string, string[]>) =>
    new Map([...map].filter(([name]) => kept.has(name)).map(([name, list]) => [name, list.filter((n) => kept.has(n))]));
  return {
    pipeline: graph.pipeline,
    order: graph.order.filter((name) => kept.has(name)),
    edges: graph.edges.filter((e) => kept.has(e.from) && kept.has(e.to)),
    upstream: filter(graph.upstream),
    downstream: filter(graph.downstream),
  };
}
