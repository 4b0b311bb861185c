/** Run records, metrics show/diff and params diff through the real CLI. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { freshProjects } from './experiments-fixture.ts';

describe('run records and diffs', () => {
  const fresh = freshProjects(after);

  test('every run appends a record: actions, params used, metric values', async () => {
    const project = fresh();
    assert.equal((await project.run('run')).code, 0);
    assert.equal((await project.run('run', '--set', 'train.lr=0.2')).code, 0);
    const [first, second] = project.runRecords();
    assert.equal(project.runRecords().length, 2);
    assert.deepEqual(Object.fromEntries(Object.entries(first.stages).map(([s, r]: [string, any]) => [s, r.action])), {
      prep: 'ran',
      train: 'ran',
    });
    assert.deepEqual(first.stages.train.params, { 'train.batch_size': 16, 'train.lr': 0.1 });
    assert.deepEqual(
      first.metrics,
      { 'train.loss': 0.0625, 'train.acc': 0.9 },
      'numbers only: the optimizer string is not a metric',
    );
    assert.equal(first.git, null);
    assert.deepEqual(second.set, ['train.lr=0.2']);
    assert.deepEqual(Object.fromEntries(Object.entries(second.stages).map(([s, r]: [string, any]) => [s, r.action])), {
      prep: 'skipped',
      train: 'ran',
    });
    assert.deepEqual(second.metrics, { 'train.loss': 0.125, 'train.acc': 0.8 });
    assert.equal(second.plots[0].path, 'out/train/history.csv');
    assert.ok(
      project.exists(`.pipeline/cache/objects/${second.plots[0].hash.slice(0, 2)}/${second.plots[0].hash.slice(2)}`),
      'the plot is in the run cache',
    );

    const show = await project.run('metrics', 'show', '--runs', '5');
    assert.equal(show.code, 0, show.stderr);
    const lines = show.stdout.trim().split('\n');
    assert.match(
      lines[0],
      /^run\s+git\s+stages\s+train\.lr\s+train\.acc\s+train\.loss$/,
      'only the param that differs is a column',
    );
    assert.match(lines[3], /1 skipped, 1 ran\s+0\.2\s+0\.8\s+0\.125$/);
  });

  test('metrics diff: values, signed change and % (default: the run before the latest, outside git)', async () => {
    const project = fresh();
    await project.run('run');
    await project.run('run', '--set', 'train.lr=0.2');
    const [first, second] = project.runRecords();
    const diff = await project.run('metrics', 'diff', '--json');
    assert.equal(diff.code, 0, diff.stderr);
    const parsed = JSON.parse(diff.stdout);
    assert.equal(parsed.a, first.id);
    assert.equal(parsed.b, 'workspace');
    assert.deepEqual(parsed.metrics, [
      { metric: 'train.acc', old: 0.9, new: 0.8, change: -0.1, percent: -11.1111 },
      { metric: 'train.loss', old: 0.0625, new: 0.125, change: 0.0625, percent: 100 },
    ]);
    const table = await project.run('metrics', 'diff', first.id, second.id, '--metric', 'train.loss');
    assert.match(table.stdout, /train\.loss\s+0\.0625\s+0\.125\s+\+0\.0625\s+\+100\.0%/);
    assert.doesNotMatch(table.stdout, /train\.acc/, '--metric chooses the rows');
    const md = await project.run(
      'metrics',
      'diff',
      second.id.slice(0, 17) === first.id.slice(0, 17) ? second.id : second.id.slice(0, 17),
      first.id,
      '--md',
    );
    assert.match(md.stdout, /^\| metric \| .+ \| change \| % \|\n\| --- \|/);
    assert.match(md.stdout, /\| train\.loss \| 0\.125 \| 0\.0625 \| -0\.0625 \| -50\.0% \|/);
    const unknown = await project.run('metrics', 'diff', 'nosuchrun');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nosuchrun: no such run id/);
  });

  test('metrics diff against the committed pipeline.lock reads its metrics back from the run cache', async () => {
    const project = fresh();
    await project.run('run');
    const git = (...args: string[]) => execFileSync('git', args, { cwd: project.dir, stdio: 'pipe' });
    git('init', '-q');
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'add', 'pipeline.yaml', 'pipeline.lock', 'train.sh');
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'baseline');
    project.edit('pipeline.yaml', 'batch_size: 16', 'batch_size: 32');
    await project.run('run');
    const diff = JSON.parse((await project.run('metrics', 'diff', '--json')).stdout);
    assert.equal(diff.a, 'HEAD');
    assert.deepEqual(
      diff.metrics,
      [{ metric: 'train.loss', old: 0.0625, new: 0.03125, change: -0.03125, percent: -50 }],
      'acc did not change, so it is not listed',
    );
    const record = project.runRecords().at(-1)!;
    assert.equal(record.git.dirty, true, 'pipeline.yaml was edited after the commit');
    rmSync(project.path('.pipeline/cache'), { recursive: true, force: true });
    const uncached = await project.run('metrics', 'diff', '--json');
    assert.match(
      uncached.stderr,
      /note: the run of stage train that pipeline\.lock records at HEAD is not in the run cache/,
    );
    assert.deepEqual(
      JSON.parse(uncached.stdout).metrics.map((m: { old?: number }) => m.old),
      [undefined, undefined],
      'unknown, not made up',
    );
    assert.match(record.git.commit, /^[0-9a-f]{40}$/);
  });

  test('params diff lists only the params that changed', async () => {
    const project = fresh();
    await project.run('run');
    project.edit('pipeline.yaml', 'lr: 0.1', 'lr: 0.3');
    const diff = await project.run('params', 'diff', '--json');
    assert.equal(diff.code, 1, 'outside git with one run there is nothing to compare with');
    await project.run('run');
    const json = JSON.parse((await project.run('params', 'diff', project.runRecords()[0].id, '--json')).stdout);
    assert.deepEqual(json.params, [{ param: 'train.lr', old: 0.1, new: 0.3 }]);
    const all = JSON.parse((await project.run('params', 'diff', project.runRecords()[0].id, '--json', '--all')).stdout);
    assert.deepEqual(
      all.params.map((p: { param: string }) => p.param),
      ['prep.n', 'train.batch_size', 'train.lr'],
    );
    const table = await project.run('params', 'diff', project.runRecords()[0].id);
    assert.match(table.stdout, /train\.lr\s+0\.1\s+0\.3/);
    assert.doesNotMatch(table.stdout, /batch_size|prep\.n/);
  });

  test("metrics and plots must lie inside the stage's outs", async () => {
    const project = fresh();
    project.edit('pipeline.yaml', 'metrics: [out/train/metrics.json]', 'metrics: [out/prep.txt]');
    const result = await project.run('validate');
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /pipeline\.yaml:14:15: metrics file "out\/prep\.txt" of stage "train" is not among its outs/,
    );
  });
});
