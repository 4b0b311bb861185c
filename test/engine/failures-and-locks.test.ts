/** Failing stages, Ctrl-C, concurrent runs and stale run locks leave a clean state. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { StageGates, isRunning } from '../stage-gate.ts';
import { Project, ranStandardProject, waitFor } from './project-fixture.ts';

describe('failures, interrupts and locks', () => {
  let project: Project;
  let gates: StageGates;
  before(async () => {
    project = await ranStandardProject();
    gates = new StageGates(project.path('gates'));
  });
  after(() => project.remove());

  test('a failing module stage keeps the old outs and lock; the run names the stage and its log', async () => {
    const lock = project.read('pipeline.lock');
    const model = project.read('artifacts/model/weights.txt');
    project.edit('pipeline.yaml', 'lr: 0.001', 'lr: boom');
    const { result, actions, stages } = await project.runJson();
    assert.equal(result.code, 1);
    assert.deepEqual(actions, { prep: 'skipped', train: 'failed', report: 'not-run', side: 'skipped' });
    const train = stages.find((s) => s.stage === 'train')!;
    assert.equal(train.error, 'exit 1');
    assert.deepEqual(train.failure, { kind: 'exit', code: 1 });
    assert.match(result.stderr, /error: stage train failed \(exit 1\) — log: \.pipeline\/logs\/train\/.+\.log/);
    assert.match(project.read(train.log!), /learning rate exploded/);
    assert.deepEqual(stages.find((s) => s.stage === 'report')!.reasons, ['upstream stage train failed']);
    assert.equal(project.read('artifacts/model/weights.txt'), model);
    assert.equal(project.read('pipeline.lock'), lock);
    project.edit('pipeline.yaml', 'lr: boom', 'lr: 0.001');
  });

  test('a failing command stage gets its old outs back even after writing over them', async () => {
    const lock = project.read('pipeline.lock');
    const prep = project.read('artifacts/prep.txt');
    project.edit('pipeline.yaml', '>> artifacts/prep.txt', '>> artifacts/prep.txt && exit 7');
    const { result, actions } = await project.runJson('prep');
    assert.equal(result.code, 1);
    assert.deepEqual(actions, { prep: 'failed' });
    assert.equal(project.read('artifacts/prep.txt'), prep);
    assert.equal(project.read('pipeline.lock'), lock);
    project.edit('pipeline.yaml', '>> artifacts/prep.txt && exit 7', '>> artifacts/prep.txt');
  });

  test('a stage that exits 0 without making its out fails with "did not produce out"', async () => {
    project.edit('pipeline.yaml', 'ls data > artifacts-side.txt', 'true');
    const { result, stages } = await project.runJson('side');
    assert.equal(result.code, 1);
    assert.equal(stages[0].error, 'did not produce out artifacts-side.txt');
    assert.ok(project.exists('artifacts-side.txt'), 'the previous out is back');
    project.edit('pipeline.yaml', 'true', 'ls data > artifacts-side.txt');
  });

  test('Ctrl-C mid-stage stops it and leaves the old outs and lock intact', async () => {
    const lock = project.read('pipeline.lock');
    const prep = project.read('artifacts/prep.txt');
    const held = `echo prep >> counts.txt && echo half > artifacts/prep.txt && ${gates.cmd('prep')} &&`;
    project.edit('pipeline.yaml', 'echo prep >> counts.txt &&', held);
    const started = project.start(['run', 'prep']);
    await gates.waitStarted('prep');
    assert.equal(project.read('artifacts/prep.txt'), 'half\n');
    await waitFor(() => /running/.test(started.output()), 'the run to report the stage running');
    started.child.kill('SIGINT');
    const result = await started.done;
    assert.equal(result.code, 130, result.stdout + result.stderr);
    assert.match(result.stdout, /prep\s+failed \(interrupted\)/);
    assert.equal(project.read('artifacts/prep.txt'), prep);
    assert.equal(project.read('pipeline.lock'), lock);
    assert.ok(!project.exists('.pipeline/run.lock'), 'run lock released');
    // The gate and the stage's shell: the stage's process group was stopped, not left waiting.
    assert.deepEqual(gates.pids('prep').filter(isRunning), [], 'the stage process group was killed');
    project.edit('pipeline.yaml', held, 'echo prep >> counts.txt &&');
  });

  test('a second run while one is in progress is refused, naming the holder', async () => {
    const held = `echo side >> counts.txt && ${gates.cmd('side')} &&`;
    project.edit('pipeline.yaml', 'echo side >> counts.txt &&', held);
    const first = project.start(['run', 'side', '--force']);
    // Created empty (O_EXCL), then written: wait for the holder's record, not just the file.
    const holderRecord = (): { pid: number } | undefined => {
      try {
        return JSON.parse(readFileSync(project.path('.pipeline/run.lock'), 'utf8')) as { pid: number };
      } catch {
        return undefined;
      }
    };
    // The first run holds its stage at the gate until the second has been refused.
    await gates.waitStarted('side');
    const holder = holderRecord();
    assert.ok(holder, 'the first run holds the run lock while its stage runs');
    const second = await project.run('run');
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`another pipeline run is in progress: PID ${holder.pid} on `));
    assert.equal(holder.pid, first.child.pid);
    gates.release('side');
    assert.equal((await first.done).code, 0);
    project.edit('pipeline.yaml', held, 'echo side >> counts.txt &&');
  });

  test('a stale run lock left by a dead process is cleared with a message', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    writeFileSync(
      project.path('.pipeline/run.lock'),
      JSON.stringify({ pid, hostname: hostname(), started: '2020-01-01T00:00:00.000Z' }),
    );
    const result = await project.run('run');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`cleared a stale run lock left by PID ${pid}`));
    assert.ok(!project.exists('.pipeline/run.lock'));
  });

  test('an empty run lock (a run killed while taking it) is respected for a few seconds, then cleared', async () => {
    writeFileSync(project.path('.pipeline/run.lock'), '');
    const fresh = await project.run('run');
    assert.equal(fresh.code, 1);
    assert.match(
      fresh.stderr,
      /another pipeline run holds .*run\.lock \(unreadable lock file, just created\); try again in a few seconds/,
    );
    const old = new Date(Date.now() - 60_000);
    utimesSync(project.path('.pipeline/run.lock'), old, old);
    const result = await project.run('run');
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /note: cleared an unreadable run lock .*run\.lock \(left by a run killed while taking it\)/,
    );
    assert.ok(!project.exists('.pipeline/run.lock'));
  });
});
