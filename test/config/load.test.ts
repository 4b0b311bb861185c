import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadPipeline } from '../../packages/engine/src/config/load.ts';
import type { Diagnostic } from '../../packages/engine/src/errors.ts';
import { formatDiagnostic } from '../../packages/engine/src/logging/diagnostic.ts';
import { cleanupProjects, makeProject, yaml } from './project.ts';

after(cleanupProjects);

async function load(text: string, set: string[] = [], files: Record<string, string> = {}) {
  const root = makeProject({ 'pipeline.yaml': text, ...files });
  return { root, result: await loadPipeline(path.join(root, 'pipeline.yaml'), { set }) };
}

async function errorsOf(text: string, set: string[] = [], files: Record<string, string> = {}): Promise<Diagnostic[]> {
  const { result } = await load(text, set, files);
  assert.equal(result.ok, false, 'expected the pipeline to be rejected');
  return result.ok ? [] : result.diagnostics;
}

/** "LINE:COL message" for compact assertions. */
function at(d: Diagnostic): string {
  return `${d.span ? `${d.span.line}:${d.span.col}` : '-'} ${d.message}`;
}

/** The underline row of a formatted diagnostic (spaces and carets only). */
function underline(d: Diagnostic): string {
  const lines = formatDiagnostic(d, {}).split('\n');
  return lines[2].replace(/^\s*\d*\s*\| /, '');
}

const valid = yaml(
  'params:',
  '  split: { ratio: 0.2, seed: 7 }',
  '  train:',
  '    lr: 0.001',
  '    epochs: 3',
  '  data: ../shared/data',
  'stages:',
  '  split:',
  '    desc: split the images',
  '    cmd: python split.py --ratio ${params.split.ratio} --out ${OUT_DIR}',
  '    deps: ["${params.data}/train/"]',
  '    outs: [./artifacts/split/]',
  '  train:',
  '    module: stages/train.ts',
  '    deps: [artifacts/split/train.csv]',
  '    outs: [artifacts/model]',
  '    params: [train, split.seed]',
  '    heavy: true',
  '    cache: false',
  '    always_run: true',
);

describe('loadPipeline: a valid file', () => {
  it('resolves stages with interpolated, normalized paths and the params they use', async () => {
    const { root, result } = await load(valid, [], { 'stages/train.ts': 'export default {};\n' });
    assert.ok(result.ok, result.ok ? '' : result.diagnostics.map(at).join('\n'));
    const { pipeline } = result;
    assert.equal(pipeline.root, root);
    assert.deepEqual([...pipeline.stages.keys()], ['split', 'train']);
    const split = pipeline.stages.get('split')!;
    assert.equal(split.cmd, 'python split.py --ratio 0.2 --out ${OUT_DIR}');
    assert.deepEqual(
      split.deps.map((dep) => dep.written),
      ['../shared/data/train'],
    );
    assert.deepEqual(split.outs, ['artifacts/split']);
    assert.deepEqual(split.params, { data: '../shared/data', 'split.ratio': 0.2 });
    assert.equal(split.desc, 'split the images');
    assert.deepEqual([split.alwaysRun, split.cache, split.heavy], [false, true, false]);
    const train = pipeline.stages.get('train')!;
    assert.equal(train.module, 'stages/train.ts');
    assert.equal(train.cmd, undefined);
    assert.deepEqual(Object.keys(train.params), ['split.seed', 'train']);
    assert.deepEqual(train.params.train, { lr: 0.001, epochs: 3 });
    assert.deepEqual([train.alwaysRun, train.cache, train.heavy], [true, false, true]);
    assert.deepEqual(train.spans.stage, { file: path.join(root, 'pipeline.yaml'), line: 13, col: 3, length: 5 });
    assert.deepEqual([train.spans.deps[0].line, train.spans.deps[0].col], [15, 12]);
  });

  it('applies --set overrides as YAML values before interpolation', async () => {
    const { result } = await load(valid, ['train.lr=3e-4', 'split.ratio=0.25', 'train.epochs=true'], {
      'stages/train.ts': '',
    });
    assert.ok(result.ok);
    assert.equal(result.pipeline.stages.get('split')!.cmd, 'python split.py --ratio 0.25 --out ${OUT_DIR}');
    assert.deepEqual(result.pipeline.stages.get('train')!.params.train, { lr: 0.0003, epochs: true });
    assert.equal((result.pipeline.params.train as { lr: number }).lr, 0.0003);
  });
});

describe('loadPipeline: diagnostics with positions', () => {
  it('reports a misspelt stage key with its position, underline and did-you-mean', async () => {
    const [d, ...rest] = await errorsOf(yaml('stages:', '  train:', '    cmd: echo hi', '    otus: [model.bin]'));
    assert.equal(rest.length, 0);
    assert.equal(at(d), '4:5 unknown key "otus" in stage "train"');
    assert.equal(d.hint, 'did you mean "outs"?');
    assert.equal(underline(d), '    ^~~~');
    assert.equal(
      formatDiagnostic(d, { cwd: path.dirname(d.span!.file) }),
      [
        'pipeline.yaml:4:5: unknown key "otus" in stage "train"',
        '4 |     otus: [model.bin]',
        '  |     ^~~~',
        'hint: did you mean "outs"?',
      ].join('\n'),
    );
  });

  it('reports a misspelt top-level key', async () => {
    const diagnostics = await errorsOf(yaml('parms: {}', 'stages:', '  a: { cmd: x }'));
    assert.deepEqual(diagnostics.map(at), ['1:1 unknown key "parms"']);
    assert.equal(diagnostics[0].hint, 'did you mean "params"?');
  });

  it('reports every problem at once, in file order', async () => {
    const diagnostics = await errorsOf(
      yaml(
        'params: { lr: 1 }',
        'stages:',
        '  a:',
        '    cmd: x',
        '    dep: [y]',
        '  b c:',
        '    cmd: x',
        '  d:',
        '    outs: [o]',
        '  e:',
        '    cmd: x',
        '    module: stages/e.ts',
        '    deps: "z"',
        '    heavy: yes',
        '    params: [lr, lrx]',
      ),
    );
    assert.deepEqual(diagnostics.map(at), [
      '5:5 unknown key "dep" in stage "a"',
      '6:3 invalid stage name "b c": use only letters, digits, "_" and "-"',
      '8:3 stage "d" needs a "module" or a "cmd"',
      '11:5 stage "e" has both "module" and "cmd"; give exactly one',
      '12:13 module "stages/e.ts" of stage "e" does not exist',
      '13:11 "deps" of stage "e" must be a list',
      '14:12 "heavy" of stage "e" must be true or false',
      '15:18 stage "e" reads param "lrx", which pipeline.yaml does not declare',
    ]);
    assert.equal(diagnostics[0].hint, 'did you mean "deps"?');
    assert.match(diagnostics[6].hint!, /YAML 1\.2 reads "yes" as text/);
    assert.equal(diagnostics[7].hint, 'did you mean "lr"?');
    assert.equal(underline(diagnostics[7]), '                 ^~~');
  });

  it('reports a YAML syntax error at its position', async () => {
    const diagnostics = await errorsOf(yaml('stages:', '  a:', '    cmd: "unterminated', '    outs: [x]'));
    assert.equal(diagnostics.length >= 1, true);
    assert.equal(diagnostics[0].reason, 'yaml-syntax');
    assert.equal(diagnostics[0].span!.line, 3);
    assert.equal(diagnostics[0].span!.col, 10);
    assert.equal(diagnostics[0].message, 'YAML syntax error: this quoted string is never closed');
  });

  it('hints at the two YAML traps: an unquoted ${…} in a flow list, and ": " inside a plain value', async () => {
    const flow = await errorsOf(yaml('params: { a: x }', 'stages:', '  a:', '    cmd: x', '    deps: [${params.a}/f]'));
    assert.equal(flow[0].reason, 'yaml-syntax');
    assert.equal(flow[0].span!.line, 5);
    assert.equal(flow[0].hint, 'inside [ … ] a ${…} must be quoted: ["${params.key}/file"]');
    const colon = await errorsOf(yaml('stages:', '  a:', '    cmd: echo note: here', '    outs: [x]'));
    assert.equal(colon[0].span!.line, 3);
    assert.equal(colon[0].hint, 'a value holding ": " must be quoted: cmd: "echo a: b"');
  });

  it('reports bad indentation where the parser finds it', async () => {
    const diagnostics = await errorsOf(yaml('stages:', '  a:', '    cmd: x', '   outs: [x]'));
    assert.equal(diagnostics[0].reason, 'yaml-syntax');
    assert.deepEqual([diagnostics[0].span!.line, diagnostics[0].span!.col], [4, 1]);
  });

  it('reports a duplicate key as a YAML error on the second occurrence', async () => {
    const diagnostics = await errorsOf(yaml('stages:', '  a: { cmd: x }', '  a: { cmd: y }'));
    assert.deepEqual(
      diagnostics.map((d) => [d.reason, d.span?.line, d.span?.col]),
      [['yaml-syntax', 3, 3]],
    );
    assert.match(diagnostics[0].message, /unique/);
  });

  it('points at the exact ${params…} that names a missing key', async () => {
    const diagnostics = await errorsOf(
      yaml(
        'params:',
        '  train: { lr: 1 }',
        'stages:',
        '  a:',
        '    cmd: run --lr ${params.train.lrr} --x 1',
        '    outs: ["out/${params.nope}"]',
      ),
    );
    assert.deepEqual(diagnostics.map(at), [
      '5:19 unknown param "train.lrr" in ${params.train.lrr}',
      '6:17 unknown param "nope" in ${params.nope}',
    ]);
    assert.equal(diagnostics[0].hint, 'did you mean "train.lr"?');
    assert.equal(underline(diagnostics[0]), `${' '.repeat(18)}^${'~'.repeat('${params.train.lrr}'.length - 1)}`);
  });

  it('refuses to interpolate a subtree or a non-params reference in a path', async () => {
    const diagnostics = await errorsOf(
      yaml(
        'params:',
        '  train: { lr: 1 }',
        'stages:',
        '  a:',
        '    cmd: echo ${params.train}',
        '    deps: ["${HOME}/x"]',
      ),
    );
    assert.deepEqual(diagnostics.map(at), [
      '5:15 ${params.train} is a mapping or list; only single values can be interpolated',
      '6:13 cannot interpolate ${HOME}: only ${params.<key>} is supported here',
    ]);
  });

  it('rejects an unknown --set key with a hint, and a --set without "="', async () => {
    const diagnostics = await errorsOf(valid, ['train.lrr=1', 'oops'], { 'stages/train.ts': '' });
    assert.deepEqual(diagnostics.map(at), [
      '- --set train.lrr: no such param in pipeline.yaml',
      '- --set "oops": expected key=value',
    ]);
    assert.equal(diagnostics[0].hint, 'did you mean "train.lr"?');
    assert.equal(diagnostics[0].reason, 'bad-set');
  });

  it('keeps outs inside the project and rejects patterns as outs', async () => {
    const diagnostics = await errorsOf(
      yaml('stages:', '  a:', '    cmd: x', '    outs: [../elsewhere, "art/*.csv", .pipeline/x]'),
    );
    assert.deepEqual(diagnostics.map(at), [
      '4:12 out "../elsewhere" of stage "a" must lie inside the project folder',
      '4:26 out "art/*.csv" of stage "a" is a pattern; outs must be plain files or folders',
      '4:39 out ".pipeline/x" lies inside .pipeline/, the engine\'s own folder',
    ]);
  });

  it('requires a module to be a file inside the project', async () => {
    const diagnostics = await errorsOf(
      yaml(
        'stages:',
        '  a: { module: ../elsewhere/stage.ts }',
        '  b: { module: stages }',
        '  c: { module: stages/c.ts }',
      ),
      [],
      { 'stages/c.ts': 'export default {};\n' },
    );
    assert.deepEqual(diagnostics.map(at), [
      '2:16 module "../elsewhere/stage.ts" of stage "a" lies outside the project folder',
      '3:16 module "stages" of stage "b" is not a file',
    ]);
  });

  it('reports an unreadable file and an empty file', async () => {
    const missing = await loadPipeline('/nonexistent/pipeline.yaml');
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.diagnostics[0].message, /cannot read .*: no such file/);
    const empty = await errorsOf('# nothing here\n');
    assert.deepEqual(empty.map(at), ['1:1 the file is empty; it needs a "stages" mapping']);
  });

  it('says an empty stage is empty (one error, on its name), and a stage that is a list must be a mapping', async () => {
    const diagnostics = await errorsOf(yaml('stages:', '  one:', '  two: [a]', '  three: { cmd: x }'));
    assert.deepEqual(diagnostics.map(at), ['2:3 stage "one" is empty', '3:8 stage "two" must be a mapping']);
    assert.match(diagnostics[0].hint!, /add `cmd: <shell command>`/);
  });

  it('requires at least one stage', async () => {
    const diagnostics = await errorsOf(yaml('params: {}', 'stages: {}'));
    assert.deepEqual(diagnostics.map(at), ['2:1 "stages" must declare at least one stage']);
  });
});

describe('loadPipeline: optional deps', () => {
  it('leaves out a dep that interpolates to an empty string, but still counts its param as used', async () => {
    const text = yaml(
      'params:',
      '  labels: ""',
      'stages:',
      '  score:',
      '    cmd: echo scored > artifacts/score.txt',
      '    deps: ["${params.labels}"]',
      '    outs: [artifacts/score.txt]',
    );
    const { result } = await load(text);
    assert.ok(result.ok, result.ok ? '' : result.diagnostics.map(at).join('\n'));
    const stage = result.pipeline.stages.get('score')!;
    assert.deepEqual(stage.deps, []);
    assert.deepEqual(stage.params, { labels: '' });
    const set = await load(text, ['labels=labels.csv'], { 'labels.csv': 'id,label\n' });
    assert.ok(set.result.ok);
    assert.deepEqual(
      set.result.pipeline.stages.get('score')!.deps.map((dep) => dep.written),
      ['labels.csv'],
    );
  });
});
