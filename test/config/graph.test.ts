import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadPipeline } from '../../packages/engine/src/config/load.ts';
import type { Diagnostic } from '../../packages/engine/src/errors.ts';
import { buildGraph } from '../../packages/engine/src/graph/build.ts';
import { globCouldMatchUnder } from '../../packages/engine/src/graph/glob-match.ts';
import { downstreamOf, upstreamOf, type Graph } from '../../packages/engine/src/graph/graph.ts';
import { renderDot, renderMermaid, renderText } from '../../packages/engine/src/graph/render.ts';
import { resolveTargets } from '../../packages/engine/src/graph/targets.ts';
import { cleanupProjects, makeProject, yaml } from './project.ts';

after(cleanupProjects);

async function build(text: string, files: Record<string, string> = {}) {
  const root = makeProject({ 'pipeline.yaml': text, ...files });
  const loaded = await loadPipeline(path.join(root, 'pipeline.yaml'));
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('\n'));
  return buildGraph(loaded.pipeline);
}

async function graphOf(text: string, files: Record<string, string> = {}): Promise<Graph> {
  const result = await build(text, files);
  assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('\n'));
  return result.graph;
}

async function errorsOf(text: string, files: Record<string, string> = {}): Promise<Diagnostic[]> {
  const result = await build(text, files);
  assert.equal(result.ok, false, 'expected the graph to be rejected');
  return result.ok ? [] : result.diagnostics;
}

function at(d: Diagnostic): string {
  return `${d.span ? `${d.span.line}:${d.span.col}` : '-'} ${d.message}`;
}

// Declared out of order on purpose: "report" first, yet it must run last.
const dogsAndCats = yaml(
  'stages:',
  '  report:',
  '    cmd: make-report',
  '    deps: [artifacts/model, "artifacts/features/*.npy"]',
  '    outs: [reports/summary.html]',
  '  split:',
  '    cmd: split',
  '    deps: [data/labels.csv]',
  '    outs: [artifacts/split]',
  '  backbone:',
  '    cmd: fetch',
  '    outs: [artifacts/backbone.json]',
  '  features:',
  '    cmd: features',
  '    deps: [artifacts/split/train.csv, artifacts/backbone.json]',
  '    outs: [artifacts/features]',
  '  train:',
  '    cmd: train',
  '    deps: [artifacts/features]',
  '    outs: [artifacts/model]',
  '  everything:',
  '    cmd: tar',
  '    deps: [artifacts]',
  '    outs: [bundle.tar]',
);

describe('buildGraph', () => {
  it('connects deps to the outs they lie in, contain, or could match as a glob', async () => {
    const graph = await graphOf(dogsAndCats, { 'data/labels.csv': 'x\n' });
    assert.deepEqual(graph.order, ['split', 'backbone', 'features', 'train', 'report', 'everything']);
    assert.deepEqual(graph.upstream.get('features'), ['split', 'backbone']);
    assert.deepEqual(graph.upstream.get('report'), ['features', 'train']);
    assert.deepEqual(graph.upstream.get('everything'), ['split', 'backbone', 'features', 'train']);
    assert.deepEqual(graph.upstream.get('split'), []);
    assert.deepEqual(
      graph.edges.find((e) => e.to === 'features' && e.from === 'split'),
      {
        from: 'split',
        to: 'features',
        out: 'artifacts/split',
        dep: 'artifacts/split/train.csv',
      },
    );
  });

  it('answers upstream and downstream queries in topological order', async () => {
    const graph = await graphOf(dogsAndCats, { 'data/labels.csv': 'x\n' });
    assert.deepEqual(upstreamOf(graph, ['train']), ['split', 'backbone', 'features', 'train']);
    assert.deepEqual(upstreamOf(graph, ['backbone']), ['backbone']);
    assert.deepEqual(upstreamOf(graph, []), graph.order);
    assert.deepEqual(downstreamOf(graph, 'split'), ['features', 'train', 'report', 'everything']);
    assert.deepEqual(downstreamOf(graph, 'everything'), []);
  });

  it('keeps declaration order among independent stages', async () => {
    const graph = await graphOf(
      yaml('stages:', '  c: { cmd: x, outs: [c] }', '  a: { cmd: x, outs: [a] }', '  b: { cmd: x, outs: [b] }'),
    );
    assert.deepEqual(graph.order, ['c', 'a', 'b']);
  });

  it('names cycles as a → b → a, once per loop', async () => {
    const diagnostics = await errorsOf(
      yaml(
        'stages:',
        '  a: { cmd: x, deps: [out/c], outs: [out/a] }',
        '  b: { cmd: x, deps: [out/a/file.csv], outs: [out/b] }',
        '  c: { cmd: x, deps: [out/b], outs: [out/c] }',
        '  free: { cmd: x, outs: [out/free] }',
      ),
    );
    assert.deepEqual(diagnostics.map(at), ['2:3 cycle: a → b → c → a']);
    assert.equal(diagnostics[0].reason, 'cycle');
    assert.match(diagnostics[0].hint!, /"b" reads out\/a\/file.csv \(from a\)/);
  });

  it('rejects two stages writing the same or nested outs, and a stage reading its own out', async () => {
    const diagnostics = await errorsOf(
      yaml(
        'stages:',
        '  a: { cmd: x, outs: [out/a] }',
        '  b: { cmd: x, outs: [out/a] }',
        '  c: { cmd: x, outs: [out/a/deep] }',
        '  d: { cmd: x, outs: [out] }',
        '  e: { cmd: x, deps: [out/e/in], outs: [out/e] }',
      ),
    );
    assert.deepEqual(diagnostics.map(at), [
      '3:23 stage "b" writes "out/a", but stage "a" also writes it',
      '4:23 stage "c" writes "out/a/deep", but it lies inside "out/a", written by stage "a"',
      '5:23 stage "d" writes "out", but it contains "out/a", written by stage "a"',
      '6:23 stage "e" reads "out/e/in", which overlaps its own out "out/e"',
      '6:41 stage "e" writes "out/e", but it lies inside "out", written by stage "d"',
    ]);
  });

  it('rejects outs that are or contain pipeline.yaml, its lock, or a stage module (a run would move them away)', async () => {
    const diagnostics = await errorsOf(
      yaml(
        'stages:',
        '  a: { cmd: x, outs: [pipeline.lock, ./pipeline.yaml] }',
        '  b: { module: stages/b.ts, outs: [stages] }',
        '  c: { cmd: x, outs: [pipeline.yaml.d, pipeline.lock.d/x] }',
      ),
      { 'stages/b.ts': 'export default { async run() {} };\n' },
    );
    assert.deepEqual(diagnostics.map(at), [
      '2:23 out "pipeline.lock" of stage "a" is the lock file pipeline.lock',
      '2:38 out "pipeline.yaml" of stage "a" is the pipeline file pipeline.yaml',
      '3:36 out "stages" of stage "b" contains the module of stage "b" (stages/b.ts)',
    ]);
  });

  it('rejects deps that no stage makes and that do not exist, globs included', async () => {
    const diagnostics = await errorsOf(
      yaml(
        'stages:',
        '  a:',
        '    cmd: x',
        '    deps: [data/here.csv, data/missing.csv, "data/*.csv", "data/*.json", "nowhere/**/*.csv", ../outside/x.bin]',
        '    outs: [artifacts/a]',
        '  b:',
        '    cmd: x',
        '    deps: [artifacts/aa]',
      ),
      { 'data/here.csv': '1\n' },
    );
    assert.deepEqual(diagnostics.map(at), [
      '4:27 dep "data/missing.csv" of stage "a" does not exist, and no stage writes it',
      '4:59 dep "data/*.json" of stage "a" matches no file, and no stage writes anything it could match',
      '4:74 dep "nowhere/**/*.csv" of stage "a" matches no file, and no stage writes anything it could match',
      '4:94 dep "../outside/x.bin" of stage "a" does not exist, and no stage writes it',
      '8:12 dep "artifacts/aa" of stage "b" does not exist, and no stage writes it',
    ]);
    assert.equal(diagnostics[4].hint, 'did you mean "artifacts/a"?');
  });

  it('accepts existing deps outside the project and globs a stage could satisfy', async () => {
    const root = makeProject({ 'shared/data/x.bin': 'x', 'project/data/a.csv': '1' });
    const file = path.join(root, 'project', 'pipeline.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      file,
      yaml(
        'stages:',
        '  a: { cmd: x, deps: [../shared/data, "../shared/**/*.bin"], outs: [artifacts/a] }',
        '  b: { cmd: x, deps: ["artifacts/*/*.csv"], outs: [b] }',
      ),
    );
    const loaded = await loadPipeline(file);
    assert.ok(loaded.ok);
    const result = await buildGraph(loaded.pipeline);
    assert.ok(result.ok, result.ok ? '' : result.diagnostics.map(at).join('\n'));
    assert.deepEqual(result.graph.upstream.get('b'), ['a']);
  });
});

describe('globCouldMatchUnder', () => {
  it('matches outs segment by segment', () => {
    assert.equal(globCouldMatchUnder('artifacts/*.csv', 'artifacts/split.csv'), true);
    assert.equal(globCouldMatchUnder('artifacts/*.csv', 'artifacts/model'), false);
    assert.equal(globCouldMatchUnder('artifacts/*/train.csv', 'artifacts/split'), true);
    assert.equal(globCouldMatchUnder('artifacts/**', 'artifacts/a/b/c'), true);
    assert.equal(globCouldMatchUnder('artifacts/{a,b}/x', 'artifacts/b'), true);
    assert.equal(globCouldMatchUnder('artifacts/{a,b}/x', 'artifacts/c'), false);
    assert.equal(globCouldMatchUnder('art?facts/[ab].txt', 'artifacts/c.txt'), false);
    assert.equal(globCouldMatchUnder('art?facts/[ab].txt', 'artifacts/a.txt'), true);
    assert.equal(globCouldMatchUnder('data/*.csv', 'data/a/b.csv'), false);
  });
});

describe('resolveTargets', () => {
  it('returns known targets in run order and suggests the closest name for a typo', async () => {
    const graph = await graphOf(dogsAndCats, { 'data/labels.csv': 'x\n' });
    assert.deepEqual(resolveTargets(graph, ['train', 'split', 'train']), { ok: true, targets: ['split', 'train'] });
    const bad = resolveTargets(graph, ['trian', 'zzzzzz']);
    assert.equal(bad.ok, false);
    const diagnostics = bad.ok ? [] : bad.diagnostics;
    assert.deepEqual(
      diagnostics.map((d) => [d.reason, d.message, d.hint]),
      [
        ['unknown-target', 'unknown stage "trian"', 'did you mean "train"?'],
        ['unknown-target', 'unknown stage "zzzzzz"', 'stages: split, backbone, features, train, report, everything'],
      ],
    );
  });
});

describe('renderers', () => {
  it('draws the plain list, Mermaid and DOT', async () => {
    const graph = await graphOf(
      yaml(
        'stages:',
        '  split: { cmd: x, outs: [artifacts/split], desc: split the data }',
        '  train-model: { cmd: x, deps: [artifacts/split/train.csv], outs: [model], heavy: true }',
      ),
    );
    assert.equal(
      renderText(graph),
      ['1. split        split the data', '2. train-model  [heavy]', '     ← split'].join('\n'),
    );
    assert.equal(
      renderMermaid(graph),
      [
        'flowchart TD',
        '  s0_split["split"]',
        '  s1_train_model["train-model"]',
        '  s0_split -->|"artifacts/split"| s1_train_model',
      ].join('\n'),
    );
    assert.equal(
      renderDot(graph),
      [
        'digraph pipeline {',
        '  rankdir=LR;',
        '  node [shape=box];',
        '  "split" [tooltip="split the data"];',
        '  "train-model";',
        '  "split" -> "train-model" [label="artifacts/split"];',
        '}',
      ].join('\n'),
    );
  });
});
