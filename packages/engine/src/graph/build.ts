/**
 * The graph phase: a loaded Pipeline → a Graph, or diagnostics for what makes
 * it unbuildable: two stages writing the same out, a stage reading its own out,
 * a dep that nothing makes and that does not exist, and cycles.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { globBase, isWithin, overlaps } from '../config/paths.ts';
import type { Dep } from '../config/dep.ts';
import type { Pipeline, ResolvedStage } from '../config/pipeline.ts';
import { didYouMean } from '../config/did-you-mean.ts';
import { diagnostic, type Diagnostic } from '../errors.ts';
import { globCouldMatchUnder } from './glob-match.ts';
import type { Edge, Graph } from './graph.ts';

export type GraphResult = { ok: true; graph: Graph } | { ok: false; diagnostics: Diagnostic[] };

export async function buildGraph(pipeline: Pipeline): Promise<GraphResult> {
  const stages = [...pipeline.stages.values()];
  const diagnostics: Diagnostic[] = [...overlappingOuts(stages), ...outsOverProjectFiles(pipeline, stages)];
  const edges: Edge[] = [];

  for (const stage of stages) {
    for (const [index, dep] of stage.deps.entries()) {
      const span = stage.spans.deps[index];
      const producers = producersOf(dep, stages);
      const own = producers.filter((p) => p.from === stage.name);
      if (own.length) {
        diagnostics.push(
          diagnostic(
            'cycle',
            `stage "${stage.name}" reads "${dep.written}", which overlaps its own out "${own[0].out}"`,
            span,
            'a stage cannot depend on what it writes; split it into two stages',
          ),
        );
      }
      const others = producers.filter((p) => p.from !== stage.name);
      for (const producer of others)
        edges.push({ from: producer.from, to: stage.name, out: producer.out, dep: dep.written });
      if (others.length === 0 && own.length === 0 && !(await existsOnDisk(pipeline.root, dep))) {
        diagnostics.push(
          diagnostic(
            'missing-dep',
            dep.kind === 'glob'
              ? `dep "${dep.written}" of stage "${stage.name}" matches no file, and no stage writes anything it could match`
              : `dep "${dep.written}" of stage "${stage.name}" does not exist, and no stage writes it`,
            span,
            missingDepHint(dep.written, stages),
          ),
        );
      }
    }
  }

  const upstream = adjacency(stages, edges, 'to', 'from');
  const downstream = adjacency(stages, edges, 'from', 'to');
  const { order, cycles } = topologicalOrder(stages, upstream, downstream);
  for (const cycle of cycles) {
    const first = pipeline.stages.get(cycle[0])!;
    const links = cycle.slice(0, -1).map((from, i) => {
      const edge = edges.find((e) => e.from === from && e.to === cycle[i + 1])!;
      return `"${edge.to}" reads ${edge.dep} (from ${edge.from})`;
    });
    diagnostics.push(diagnostic('cycle', `cycle: ${cycle.join(' → ')}`, first.spans.stage, links.join('; ')));
  }

  if (diagnostics.length) return { ok: false, diagnostics: sortByPosition(diagnostics) };
  const byOrder = (names: string[]) => names.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  for (const list of upstream.values()) byOrder(list);
  for (const list of downstream.values()) byOrder(list);
  return { ok: true, graph: { pipeline, order, edges, upstream, downstream } };
}

/** Stages whose outs a dep reads: the dep lies in the out, the dep folder contains it, or a glob could match in it. */
function producersOf(dep: Dep, stages: ResolvedStage[]): Array<{ from: string; out: string }> {
  const found: Array<{ from: string; out: string }> = [];
  if (dep.kind === 'url') return found;
  for (const stage of stages) {
    for (const out of stage.outs) {
      const reads = dep.kind === 'glob' ? globCouldMatchUnder(dep.written, out) : overlaps(dep.written, out);
      if (reads) {
        found.push({ from: stage.name, out });
        break;
      }
    }
  }
  return found;
}

/** Two outs that are the same path or nested: the later one is the error. */
function overlappingOuts(stages: ResolvedStage[]): Diagnostic[] {
  const seen: Array<{ stage: string; out: string }> = [];
  const diagnostics: Diagnostic[] = [];
  for (const stage of stages) {
    for (const [index, out] of stage.outs.entries()) {
      const clash = seen.find((s) => overlaps(out, s.out));
      if (clash) {
        const owner = clash.stage === stage.name ? 'this stage' : `stage "${clash.stage}"`;
        const relation =
          out === clash.out
            ? clash.stage === stage.name
              ? 'it is listed twice'
              : `${owner} also writes it`
            : isWithin(out, clash.out)
              ? `it lies inside "${clash.out}", written by ${owner}`
              : `it contains "${clash.out}", written by ${owner}`;
        diagnostics.push(
          diagnostic(
            'duplicate-out',
            `stage "${stage.name}" writes "${out}", but ${relation}`,
            stage.spans.outs[index],
            'every file or folder must have exactly one stage writing it',
          ),
        );
      }
      seen.push({ stage: stage.name, out });
    }
  }
  return diagnostics;
}

/**
 * Outs are moved aside and replaced on every run, so none may be (or contain)
 * pipeline.yaml, its lock, or a stage's module: a run would take them away.
 */
function outsOverProjectFiles(pipeline: Pipeline, stages: ResolvedStage[]): Diagnostic[] {
  const yamlFile = path.basename(pipeline.file);
  const lockFile = `${path.basename(pipeline.file, path.extname(pipeline.file))}.lock`;
  const protectedFiles = [
    { file: yamlFile, what: `the pipeline file ${yamlFile}` },
    { file: lockFile, what: `the lock file ${lockFile}` },
    ...stages.flatMap((s) =>
      s.module === undefined ? [] : [{ file: s.module, what: `the module of stage "${s.name}" (${s.module})` }],
    ),
  ];
  const diagnostics: Diagnostic[] = [];
  for (const stage of stages) {
    for (const [index, out] of stage.outs.entries()) {
      const hit = protectedFiles.find(({ file }) => isWithin(file, out));
      if (hit)
        diagnostics.push(
          diagnostic(
            'bad-path',
            `out "${out}" of stage "${stage.name}" ${hit.file === out ? 'is' : 'contains'} ${hit.what}`,
            stage.spans.outs[index],
            "a stage's outs are replaced when it runs; write them elsewhere (e.g. artifacts/…)",
          ),
        );
    }
  }
  return diagnostics;
}

async function existsOnDisk(root: string, dep: Dep): Promise<boolean> {
  if (dep.kind === 'url') return true; // remote: identified by its URL, never fetched to plan a run
  if (dep.kind === 'path') {
    try {
      await stat(dep.absolute);
      return true;
    } catch {
      return false;
    }
  }
  try {
    await stat(path.resolve(root, globBase(dep.written)));
  } catch {
    return false; // the folder the pattern starts from is not there: nothing can match
  }
  // Only the first match matters; stop the walk there instead of listing a 25,000-file folder.
  const { default: fg } = await import('fast-glob');
  const stream = fg.stream(dep.written, { cwd: root, onlyFiles: false, dot: true });
  for await (const _ of stream) {
    (stream as unknown as { destroy(): void }).destroy();
    return true;
  }
  return false;
}

function missingDepHint(dep: string, stages: ResolvedStage[]): string {
  const outs = stages.flatMap((s) => s.outs);
  return didYouMean(dep, outs) ?? 'deps are relative to the folder of pipeline.yaml';
}

function adjacency(
  stages: ResolvedStage[],
  edges: Edge[],
  key: 'from' | 'to',
  value: 'from' | 'to',
): Map<string, string[]> {
  const map = new Map<string, string[]>(stages.map((s) => [s.name, []]));
  for (const edge of edges) {
    const list = map.get(edge[key])!;
    if (!list.includes(edge[value])) list.push(edge[value]);
  }
  return map;
}

/**
 * Kahn's algorithm, always taking the earliest-declared ready stage so the
 * order is stable. Stages left over lie on or behind cycles; each strongly
 * connected group among them is reported once as a named loop.
 */
function topologicalOrder(
  stages: ResolvedStage[],
  upstream: Map<string, string[]>,
  downstream: Map<string, string[]>,
): { order: string[]; cycles: string[][] } {
  const names = stages.map((s) => s.name);
  const waiting = new Map(names.map((n) => [n, upstream.get(n)!.length]));
  const order: string[] = [];
  const done = new Set<string>();
  for (;;) {
    const next = names.find((n) => !done.has(n) && waiting.get(n) === 0);
    if (next === undefined) break;
    done.add(next);
    order.push(next);
    for (const after of downstream.get(next)!) waiting.set(after, waiting.get(after)! - 1);
  }
  const left = names.filter((n) => !done.has(n));
  return { order, cycles: findCycles(left, downstream) };
}

/** One named loop per strongly connected group of the leftover stages: `a → b → a`. */
function findCycles(left: string[], downstream: Map<string, string[]>): string[][] {
  const remaining = new Set(left);
  const cycles: string[][] = [];
  const covered = new Set<string>();
  for (const start of left) {
    if (covered.has(start)) continue;
    const path = loopFrom(start, remaining, downstream);
    if (!path) continue;
    // Everything that reaches start and is reachable from it belongs to the same group.
    for (const name of left)
      if (reaches(start, name, remaining, downstream) && reaches(name, start, remaining, downstream)) covered.add(name);
    cycles.push(path);
  }
  return cycles;
}

/** The shortest path start → … → start through the remaining stages (breadth first), or undefined. */
function loopFrom(start: string, remaining: Set<string>, downstream: Map<string, string[]>): string[] | undefined {
  const previous = new Map<string, string>();
  const queue = [start];
  const seen = new Set<string>();
  while (queue.length) {
    const name = queue.shift()!;
    for (const next of downstream.get(name)!) {
      if (!remaining.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = name; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (seen.has(next)) continue;
      seen.add(next);
      previous.set(next, name);
      queue.push(next);
    }
  }
  return undefined;
}

function reaches(from: string, to: string, remaining: Set<string>, downstream: Map<string, string[]>): boolean {
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length) {
    const name = stack.pop()!;
    if (name === to) return true;
    for (const next of downstream.get(name)!)
      if (remaining.has(next) && !seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
  }
  return false;
}

function sortByPosition(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) => (a.span?.line ?? 0) - (b.span?.line ?? 0) || (a.span?.col ?? 0) - (b.span?.col ?? 0),
  );
}
