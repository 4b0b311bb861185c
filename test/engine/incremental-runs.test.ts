/** What reruns and what doesn't, driven through the real CLI. */
import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Project, standardProject } from './project-fixture.ts';

describe('incremental runs', () => {
  let project: Project;
  before(() => (project = standardProject()));
  after(() => project.remove());

  test('first run runs every stage, in dependency order', async () => {
    const { result, actions } = await project.runJson();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(actions, { prep: 'ran', train: 'ran', report: 'ran', side: 'ran' });
    assert.deepEqual(project.counts(), { prep: 1, train: 1, report: 1, side: 1 });
    assert.equal(project.read('artifacts/report.txt'), 'lines=3 lr=0.001\n');
    assert.match(project.read('pipeline.lock'), /train\.lr: 0\.001/);
  });

  test('second run runs nothing', async () => {
    const { actions, stages } = await project.runJson();
    assert.deepEqual(actions, { prep: 'skipped', train: 'skipped', report: 'skipped', side: 'skipped' });
    assert.deepEqual(stages[0].reasons, ['up to date']);
    assert.deepEqual(project.counts(), { prep: 1, train: 1, report: 1, side: 1 });
  });

  test('an unused param edit reruns nothing', async () => {
    project.edit('pipeline.yaml', 'x: 1', 'x: 2');
    const { actions } = await project.runJson();
    assert.ok(
      Object.values(actions).every((a) => a === 'skipped'),
      JSON.stringify(actions),
    );
  });

  test('touching a dep without changing its content reruns nothing', async () => {
    const future = new Date(Date.now() + 60_000);
    utimesSync(project.path('data/a.txt'), future, future);
    const { actions } = await project.runJson();
    assert.ok(
      Object.values(actions).every((a) => a === 'skipped'),
      JSON.stringify(actions),
    );
    assert.deepEqual(project.counts(), { prep: 1, train: 1, report: 1, side: 1 });
  });

  test('a used param edit reruns its stage, and downstream only if its input changed', async () => {
    project.edit('pipeline.yaml', 'note: first', 'note: second');
    const { stages, actions } = await project.runJson();
    assert.deepEqual(actions, { prep: 'skipped', train: 'ran', report: 'skipped', side: 'skipped' });
    assert.deepEqual(stages.find((s) => s.stage === 'train')!.reasons, ['params changed: train.note first → second']);

    project.edit('pipeline.yaml', 'lr: 0.001', 'lr: 0.0003');
    const second = await project.runJson();
    assert.deepEqual(second.actions, { prep: 'skipped', train: 'ran', report: 'ran', side: 'skipped' });
    assert.deepEqual(second.stages.find((s) => s.stage === 'train')!.reasons, [
      'params changed: train.lr 0.001 → 0.0003',
    ]);
    assert.deepEqual(second.stages.find((s) => s.stage === 'report')!.reasons, ['dep changed: artifacts/model']);
    assert.deepEqual(project.counts(), { prep: 1, train: 3, report: 2, side: 1 });
  });

  test('a dep content change reruns the stages that read it', async () => {
    project.write('data/b.txt', 'beta\ngamma\n');
    const { actions, stages } = await project.runJson();
    assert.deepEqual(actions, { prep: 'ran', train: 'ran', report: 'ran', side: 'ran' });
    assert.deepEqual(stages.find((s) => s.stage === 'prep')!.reasons, ['dep changed: data']);
    assert.deepEqual(stages.find((s) => s.stage === 'train')!.reasons, ['dep changed: artifacts/prep.txt']);
  });

  test('editing a helper imported by a module stage reruns that stage', async () => {
    project.edit('stages/lib/describe.ts', 'lines=', 'n_lines=');
    const { actions, stages } = await project.runJson();
    assert.deepEqual(actions, { prep: 'skipped', train: 'ran', report: 'ran', side: 'skipped' });
    assert.deepEqual(stages.find((s) => s.stage === 'train')!.reasons, ['code changed: stages/lib/describe.ts']);
  });

  test('--force re-executes the named stage only, not its upstream', async () => {
    const before = project.counts();
    const { actions, stages } = await project.runJson('train', '--force');
    assert.deepEqual(actions, { prep: 'skipped', train: 'ran' });
    assert.deepEqual(stages.find((s) => s.stage === 'train')!.reasons, ['forced']);
    assert.equal(project.counts().train, before.train + 1);
    assert.equal(project.counts().prep, before.prep);
  });

  test('--force-upstream re-executes the targets and everything above them', async () => {
    const { actions } = await project.runJson('train', '--force-upstream');
    assert.deepEqual(actions, { prep: 'ran', train: 'ran' });
  });

  test('a param round trip a → b → a restores from the run cache instead of re-running', async () => {
    project.edit('pipeline.yaml', 'lr: 0.0003', 'lr: 0.01');
    const changed = await project.runJson();
    assert.equal(changed.actions.train, 'ran');
    assert.equal(project.read('artifacts/report.txt'), 'n_lines=4 lr=0.01\n');
    const before = project.counts();

    project.edit('pipeline.yaml', 'lr: 0.01', 'lr: 0.0003');
    const status = JSON.parse((await project.run('status', '--json')).stdout) as { stage: string; state: string }[];
    assert.equal(status.find((s) => s.stage === 'train')!.state, 'restorable');
    const back = await project.runJson();
    assert.deepEqual(back.actions, { prep: 'skipped', train: 'restored', report: 'restored', side: 'skipped' });
    assert.deepEqual(project.counts(), before, 'nothing executed');
    assert.equal(project.read('artifacts/report.txt'), 'n_lines=4 lr=0.0003\n');
    assert.match(project.read('pipeline.lock'), /train\.lr: 0\.0003/);
    // The lock now matches: the next run is a no-op.
    const again = await project.runJson();
    assert.ok(
      Object.values(again.actions).every((a) => a === 'skipped'),
      JSON.stringify(again.actions),
    );
  });

  test('--set overrides a param for one run and is recorded in the lock', async () => {
    const { actions } = await project.runJson('--set', 'train.lr=0.05');
    assert.equal(actions.train, 'ran');
    assert.match(project.read('pipeline.lock'), /train\.lr: 0\.05/);
    assert.equal(project.read('artifacts/report.txt'), 'n_lines=4 lr=0.05\n');
    // Without --set the file's value is back: stale again, and restorable.
    const status = JSON.parse((await project.run('status', '--json')).stdout) as {
      stage: string;
      state: string;
      reasons: string[];
    }[];
    const train = status.find((s) => s.stage === 'train')!;
    assert.equal(train.state, 'restorable');
    assert.deepEqual(train.reasons, ['params changed: train.lr 0.05 → 0.0003']);
  });

  test('--dry-run says what would happen and runs nothing', async () => {
    const before = project.counts();
    const lock = project.read('pipeline.lock');
    const { stages } = await project.runJson('--dry-run');
    assert.deepEqual(
      stages.map((s) => [s.stage, s.action]),
      [
        ['prep', 'skipped'],
        ['train', 'would-restore'],
        ['report', 'would-restore'],
        ['side', 'skipped'],
      ],
    );
    // The cache record says what train's restored outs will hold, so report is judged on them, as the run will.
    assert.deepEqual(stages[2].reasons, ['dep changed: artifacts/model']);
    assert.deepEqual(project.counts(), before);
    assert.equal(project.read('pipeline.lock'), lock);
  });

  test('--json prints only the result array on stdout, every entry with stage, action, reasons, seconds', async () => {
    const { result, stages } = await project.runJson();
    assert.equal(result.code, 0);
    assert.equal(stages.length, 4);
    for (const stage of stages) {
      assert.equal(typeof stage.stage, 'string');
      assert.equal(typeof stage.action, 'string');
      assert.ok(Array.isArray(stage.reasons) && stage.reasons.length > 0);
      assert.equal(typeof stage.seconds, 'number');
    }
    assert.match(result.stderr, /restored/, 'progress lines go to stderr under --json');
    assert.deepEqual(
      Object.fromEntries(stages.map((s) => [s.stage, s.action])),
      { prep: 'skipped', train: 'restored', report: 'restored', side: 'skipped' },
      'as the dry run said',
    );
  });

  test('status names stale stages with reasons and the command to update them', async () => {
    project.edit('pipeline.yaml', 'scale: 2', 'scale: 3');
    const result = await project.run('status');
    assert.equal(result.code, 0);
    assert.match(result.stdout, /prep\s+stale\s+\(params changed: prep\.scale 2 → 3\)/);
    assert.match(result.stdout, /train\s+stale\s+\(upstream stage prep will run\)/);
    assert.match(result.stdout, /side\s+up-to-date/);
    assert.match(result.stdout, /run `pipeline run` to update them/);
  });
});
