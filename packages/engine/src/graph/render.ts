/** `pipeline dag` output: a plain list, Mermaid flowchart, or Graphviz DOT. */
import type { Graph } from './graph.ts';

/** One edge per producer/consumer pair, labelled with the outs that connect them. */
function pairs(graph: Graph): Array<{ from: string; to: string; label: string }> {
  const byPair = new Map<string, { from: string; to: string; outs: string[] }>();
  for (const edge of graph.edges) {
    const key = `${edge.from}\u0000${edge.to}`;
    const entry = byPair.get(key) ?? { from: edge.from, to: edge.to, outs: [] };
    if (!entry.outs.includes(edge.out)) entry.outs.push(edge.out);
    byPair.set(key, entry);
  }
  return [...byPair.values()].map(({ from, to, outs }) => ({ from, to, label: outs.join(', ') }));
}

/**
 * Stages in run order, each with its description and, on the next line, the
 * stages it waits for:
 *
 *   1. split  split the images
 *   2. train  [heavy]  fit the head
 *        ← split
 */
export function renderText(graph: Graph): string {
  const width = Math.max(...graph.order.map((name) => name.length));
  const number = String(graph.order.length).length;
  const indent = ' '.repeat(number + 4);
  return graph.order
    .flatMap((name, i) => {
      const stage = graph.pipeline.stages.get(name)!;
      const upstream = graph.upstream.get(name)!;
      const flags = [
        stage.heavy ? 'heavy' : '',
        stage.alwaysRun ? 'always run' : '',
        stage.cache ? '' : 'no cache',
      ].filter(Boolean);
      const head = [
        `${String(i + 1).padStart(number)}. ${name.padEnd(width)}`,
        flags.length ? `[${flags.join(', ')}]` : '',
        stage.desc ?? '',
      ]
        .filter(Boolean)
        .join('  ')
        .trimEnd();
      return upstream.length ? [head, `${indent}← ${upstream.join(', ')}`] : [head];
    })
    .join('\n');
}

export function renderMermaid(graph: Graph): string {
  const ids = nodeIds(graph.order);
  const lines = ['flowchart TD'];
  for (const name of graph.order) lines.push(`  ${ids.get(name)}["${escapeMermaid(name)}"]`);
  for (const { from, to, label } of pairs(graph))
    lines.push(`  ${ids.get(from)} -->|"${escapeMermaid(label)}"| ${ids.get(to)}`);
  return lines.join('\n');
}

export function renderDot(graph: Graph): string {
  const lines = ['digraph pipeline {', '  rankdir=LR;', '  node [shape=box];'];
  for (const name of graph.order) {
    const stage = graph.pipeline.stages.get(name)!;
    const tooltip = stage.desc ? ` [tooltip=${quoteDot(stage.desc)}]` : '';
    lines.push(`  ${quoteDot(name)}${tooltip};`);
  }
  for (const { from, to, label } of pairs(graph))
    lines.push(`  ${quoteDot(from)} -> ${quoteDot(to)} [label=${quoteDot(label)}];`);
  lines.push('}');
  return lines.join('\n');
}

/** The graph as plain JSON (for `pipeline dag --json`). */
export function renderJson(graph: Graph): object {
  return {
    stages: graph.order.map((name) => {
      const stage = graph.pipeline.stages.get(name)!;
      return {
        name,
        upstream: graph.upstream.get(name),
        downstream: graph.downstream.get(name),
        ...(stage.desc ? { desc: stage.desc } : {}),
      };
    }),
    edges: graph.edges,
  };
}

/** Mermaid ids must be plain words; stage names may hold `-`, and some words (`end`) are reserved. */
function nodeIds(names: string[]): Map<string, string> {
  return new Map(names.map((name, i) => [name, `s${i}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`]));
}

function escapeMermaid(text: string): string {
  return text.replace(/"/g, '#quot;');
}

function quoteDot(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
