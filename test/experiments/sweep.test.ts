/** `pipeline sweep`: a grid of variants side by side, sharing upstream stages through the run cache. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Project } from '../engine/project-fixture.ts';
import { freshProjects, ExperimentProject, PIPELINE } from './experiments-fixture.ts';

describe('pipeline sweep', () => {
  const fresh = freshProjects(after);
  const sweepJson = async (project: ExperimentProject, ...args: string[]) => {
    const result = await project.run('sweep', '--json', ...args);
    try {
      return { result, json: JSON.parse(result.stdout) };
    } catch {
      throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
    }
  };

  test('a 2×3 grid runs 6 variants, computes the shared upstream once, leaves the workspace byte-identical', async () => {
    const project = fresh();
    const before = project.snapshot();
    const { result, json } = await sweepJson(
      project,
      '--set',
      'train.batch_size=16,32',
      '--set',
      'train.lr=0.1,0.2,0.4',
      '--metric',
      'train.loss',
      '--jobs',
      '3',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(json.variants.length, 6);
    assert.deepEqual(
      project.invocations(),
      { prep: 1, train: 6 },
      'prep has the same fingerprint in every variant: it ran once',
    );
    // Sorted by train.loss = lr·10/batch_size, smallest first; each variant's value is its own.
    const rows = json.variants.map((v: any) => [
      v.params['train.lr'],
      v.params['train.batch_size'],
      v.metrics['train.loss'],
      v.status,
    ]);
    assert.deepEqual(rows, [
      ['0.1', '32', 0.03125, 'ok'],
      ['0.1', '16', 0.0625, 'ok'],
      ['0.2', '32', 0.0625, 'ok'],
      ['0.2', '16', 0.125, 'ok'],
      ['0.4', '32', 0.125, 'ok'],
      ['0.4', '16', 0.25, 'ok'],
    ]);
    assert.deepEqual(
      project.snapshot(),
      before,
      'no file outside .pipeline/ was created or changed (no outs, no lock)',
    );
    assert.ok(project.exists(json.page.replace(/^.*\.pipeline/, '.pipeline')), 'the comparison page is written');
    assert.equal(project.runRecords().filter((r) => r.sweep).length, 6, 'each variant is recorded as a run');

    // The winner is in the run cache: running it in the project restores every stage, nothing executes.
    const { result: run, actions } = await project.runJson('--set', 'train.lr=0.1', '--set', 'train.batch_size=32');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(actions, { prep: 'restored', train: 'restored' });
    assert.deepEqual(project.invocations(), { prep: 1, train: 6 });
    assert.equal(JSON.parse(project.read('out/train/metrics.json')).loss, 0.03125);
  });

  test('after a project run, the sweep restores what the project already computed', async () => {
    const project = fresh();
    assert.equal((await project.run('run')).code, 0);
    const { result } = await sweepJson(project, '--set', 'train.lr=0.1,0.2', '--jobs', '2');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      project.invocations(),
      { prep: 1, train: 2 },
      'lr=0.1 restored from the project run, only lr=0.2 trained',
    );
  });

  test('concurrent variants each write their own outs', async () => {
    const project = fresh();
    project.together = 4; // the four trains wait for each other: the sweep only ends if it runs them at once
    const { result, json } = await sweepJson(project, '--set', 'train.lr=0.1,0.2,0.3,0.4', '--jobs', '4');
    assert.equal(result.code, 0, result.stderr);
    for (const variant of json.variants) {
      const lr = Number(variant.params['train.lr']);
      assert.equal(
        variant.metrics['train.acc'],
        Number((1 - lr).toFixed(4)),
        `${variant.variant} holds its own metrics`,
      );
      const own = JSON.parse(project.read(`${variant.folder}/out/train/metrics.json`));
      assert.equal(own.loss, Number(((lr * 10) / 16).toFixed(6)));
    }
  });

  test('a failing variant is reported and the others finish', async () => {
    const project = fresh();
    const { result, json } = await sweepJson(
      project,
      '--set',
      'train.lr=0.1,boom,0.2',
      '--metric',
      'train.loss',
      '--jobs',
      '2',
    );
    assert.equal(result.code, 1);
    const status = Object.fromEntries(json.variants.map((v: any) => [v.params['train.lr'], v.status]));
    assert.deepEqual(status, { '0.1': 'ok', '0.2': 'ok', boom: 'failed: train (exit 3)' });
    assert.equal(json.variants.at(-1).params['train.lr'], 'boom', 'a failed variant sorts last');
    const table = await project.run('sweep', '--set', 'train.lr=0.1,boom');
    assert.match(table.stdout, /v2\s+boom\s+failed: train \(exit 3\)/);
  });

  test('--apply best writes only the winning values into pipeline.yaml', async () => {
    const project = fresh();
    const result = await project.run(
      'sweep',
      '--set',
      'train.lr=0.05,0.2',
      '--set',
      'train.batch_size=16,32',
      '--metric',
      'train.loss',
      '--apply',
      'best',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      project.read('pipeline.yaml'),
      PIPELINE.replace('lr: 0.1, batch_size: 16', 'lr: 0.05, batch_size: 32'),
      'comments, layout and the flow mapping are kept',
    );
    assert.match(result.stderr, /applied v2 to pipeline\.yaml: train\.lr=0\.05, train\.batch_size=32/);
    const { actions } = await project.runJson();
    assert.deepEqual(actions, { prep: 'restored', train: 'restored' });
  });

  test('--apply best also writes the single-valued --set values, so the next run restores everything', async () => {
    const project = fresh();
    const result = await project.run(
      'sweep',
      '--set',
      'prep.n=4',
      '--set',
      'train.lr=0.05,0.2',
      '--metric',
      'train.loss',
      '--apply',
      'best',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      project.read('pipeline.yaml'),
      PIPELINE.replace('    n: 3', '    n: 4').replace('lr: 0.1,', 'lr: 0.05,'),
    );
    const { actions } = await project.runJson();
    assert.deepEqual(actions, { prep: 'restored', train: 'restored' });
  });

  test('module stages in a variant: ctx.root is the project, deps are found, outs land in the variant', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'pipeline-outside-'));
    writeFileSync(join(outside, 'in.txt'), 'hello\n');
    const project = new Project({
      'pipeline.yaml': `params:
  input: ../${basename(outside)}/in.txt
  scale: 1
stages:
  echo:
    module: stages/echo.ts
    deps: ["\${params.input}"]
    params: [input, scale]
    outs: [artifacts/echo]
    metrics: [artifacts/echo/metrics.json]
`,
      // Resolves a param path from ctx.root, as the Dogs-vs-Cats stages do with ../shared paths.
      'stages/echo.ts': `import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
export default {
  async run(ctx: any) {
    const text = readFileSync(resolve(ctx.root, ctx.params.input), 'utf8') + readFileSync(ctx.deps[0], 'utf8');
    mkdirSync(ctx.outs[0], { recursive: true });
    writeFileSync(join(ctx.outs[0], 'metrics.json'), JSON.stringify({ chars: text.length * ctx.params.scale }));
  },
};
`,
    });
    try {
      const result = await project.run('sweep', '--json', '--set', 'scale=1,2,3', '--jobs', '2');
      assert.equal(result.code, 0, result.stderr);
      const variants = JSON.parse(result.stdout).variants;
      assert.deepEqual(
        variants.map((v: any) => v.metrics['echo.chars']),
        [12, 24, 36],
      );
      assert.ok(!project.exists('artifacts'), 'no out was written into the project');
    } finally {
      project.remove();
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('-f names another pipeline file in another folder: its variants carry that file and its lock', async () => {
    const project = fresh();
    project.write('exp/other.yaml', project.read('pipeline.yaml'));
    project.write('exp/train.sh', project.read('train.sh'));
    const { result, json } = await sweepJson(project, '-f', 'exp/other.yaml', '--set', 'train.lr=0.1,0.2');
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      !project.exists('exp/other.lock') && !project.exists('exp/out'),
      'the project beside other.yaml is untouched',
    );
    const folder = `exp/${json.variants[0].folder}`;
    assert.match(project.read(`${folder}/other.yaml`), /^# sweep .*, variant v1: train\.lr=0\.1\n/);
    assert.ok(project.exists(`${folder}/other.lock`));
    assert.deepEqual(
      json.variants.map((v: any) => v.metrics['train.acc']),
      [0.9, 0.8],
    );
  });

  test('a sweep declared in pipeline.yaml runs by name; the command line adds to it and takes precedence', async () => {
    const project = fresh();
    const declared = `${PIPELINE}sweeps:
  head:
    description: the head's learning rate against batch size
    set:
      train.lr: [0.1, 0.2]
      train.batch_size: [16, 32]
      prep.n: [4]
    metric: train.loss
    max: true
    jobs: 2
`;
    project.write('pipeline.yaml', declared);
    const list = await project.run('sweep', '--list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      /^head: 4 variants of train\.lr \(2\) × train\.batch_size \(2\) × prep\.n \(1\), best largest train\.loss\n {2}the head's learning rate/,
    );

    const { result, json } = await sweepJson(project, 'head');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(json.name, 'head');
    // max: true → largest loss first; prep.n = 4 (one value) is applied to every variant.
    assert.deepEqual(
      json.variants.map((v: any) => [v.params['train.lr'], v.params['train.batch_size'], v.metrics['train.loss']]),
      [
        ['0.2', '16', 0.125],
        ['0.1', '16', 0.0625],
        ['0.2', '32', 0.0625],
        ['0.1', '32', 0.03125],
      ],
    );
    assert.deepEqual(project.invocations(), { prep: 1, train: 4 });
    const variant = project.read(join(json.variants[0].folder, 'pipeline.yaml'));
    assert.match(variant, /n: 4/, 'the fixed value is written into every variant');

    // --set replaces the declared list of the same key, --metric and --max win over the block's (no --max: the block's stands).
    const { result: again, json: overridden } = await sweepJson(
      project,
      'head',
      '--set',
      'train.lr=0.4,0.8,1.6',
      '--metric',
      'train.acc',
    );
    assert.equal(again.code, 0, again.stderr);
    assert.equal(overridden.metric, 'train.acc');
    assert.deepEqual(
      overridden.variants.map((v: any) => [v.params['train.lr'], v.metrics['train.acc']]),
      [
        ['0.4', 0.6],
        ['0.4', 0.6],
        ['0.8', 0.2],
        ['0.8', 0.2],
        ['1.6', -0.6],
        ['1.6', -0.6],
      ],
    );
    assert.deepEqual(project.invocations(), { prep: 1, train: 10 }, 'prep (n: 4) was restored, not run again');

    const typo = await project.run('sweep', 'haed');
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /no sweep "haed" in pipeline\.yaml\n {2}hint: did you mean "head"\?/);
    const bare = await project.run('sweep');
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /nothing to sweep: name a sweep of pipeline\.yaml \(`pipeline sweep --list`\)/);
  });

  test('a sweeps: block is checked with the file; a sweep naming a missing param warns, and only that sweep refuses to run', async () => {
    const project = fresh();
    project.write(
      'pipeline.yaml',
      `${PIPELINE}sweeps:
  typo:
    set:
      train.lrr: [0.1, 0.2]
  twice:
    set: { train.lr: [0.1, 0.1] }
  flat:
    set: { train.lr: [0.3] }
  fine:
    set: { train.lr: [0.1, 0.2] }
`,
    );
    const lines = project.read('pipeline.yaml').split('\n');
    const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
    const validate = await project.run('validate');
    assert.equal(validate.code, 0, 'the stages can still run');
    assert.match(
      validate.stderr,
      new RegExp(
        `pipeline\\.yaml:${lineOf('train.lrr')}:7: warning: sweep "typo" sets param "train\\.lrr", which pipeline\\.yaml does not declare[\\s\\S]*hint: did you mean "train\\.lr"\\?; \`pipeline sweep typo\` refuses to run until this is fixed`,
      ),
    );
    assert.match(
      validate.stderr,
      new RegExp(`pipeline\\.yaml:${lineOf('[0.1, 0.1]')}:\\d+: warning: sweep "twice" lists train\\.lr = 0\\.1 twice`),
    );
    assert.match(
      validate.stderr,
      new RegExp(`pipeline\\.yaml:${lineOf('  flat:')}:3: warning: sweep "flat" has nothing to sweep`),
    );
    assert.match(validate.stderr, /3 warnings/);
    const run = await project.run('run');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(project.invocations(), { prep: 1, train: 1 });

    const refused = await project.run('sweep', 'typo');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^pipeline\.yaml:\d+:7: sweep "typo" sets param "train\.lrr"[\s\S]*\n1 error\n$/);
    assert.doesNotMatch(refused.stderr, /twice|flat/, "only the named sweep's problems");
    const list = await project.run('sweep', '--list');
    assert.match(
      list.stdout,
      /^typo: 2 variants of train\.lrr \(2\) \(cannot run: sweep "typo" sets param "train\.lrr", which pipeline\.yaml does not declare\)$/m,
    );
    assert.match(list.stdout, /^fine: 2 variants of train\.lr \(2\)$/m);
    const fine = await project.run('sweep', 'fine');
    assert.equal(fine.code, 0, fine.stderr);
    assert.deepEqual(project.invocations(), { prep: 1, train: 2 }, "lr 0.1 was the project's run: restored; 0.2 ran");

    // A value that is not a list is a shape error of the file, like any schema error.
    project.write('pipeline.yaml', `${PIPELINE}sweeps:\n  scalar:\n    set: { train.lr: 0.3 }\n`);
    const shape = await project.run('validate');
    assert.equal(shape.code, 1);
    assert.match(shape.stderr, /pipeline\.yaml:\d+:\d+: "sweeps\.scalar\.set\.train\.lr" must be a list/);
    assert.ok(
      !project.exists('.pipeline/sweeps/') || readdirSync(project.path('.pipeline/sweeps')).length === 1,
      'only the "fine" sweep ran',
    );
  });

  test('bad grids are usage errors, before anything runs', async () => {
    const project = fresh();
    const none = await project.run('sweep', '--set', 'train.lr=0.1');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /nothing to sweep: give at least one --set key=v1,v2/);
    const unknown = await project.run('sweep', '--set', 'train.lrr=0.1,0.2');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--set train\.lrr: no such param/);
    const noMetric = await project.run('sweep', '--set', 'train.lr=0.1,0.2', '--apply', 'best');
    assert.equal(noMetric.code, 2);
    assert.ok(!project.exists('.pipeline/sweeps'), 'nothing ran');
    assert.deepEqual(readdirSync(project.dir).sort(), ['pipeline.yaml', 'train.sh']);
  });
});
