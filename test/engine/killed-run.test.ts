/** A run killed outright (SIGKILL, no chance to clean up): its stages stop, and the next run puts everything back. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Project, waitFor } from './project-fixture.ts';

const pgrep = (pattern: string): string => spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a run killed with SIGKILL', () => {
  let project: Project;
  before(async () => {
    project = new Project({
      'pipeline.yaml': `params:
  v: 1
  wait: 0
stages:
  write:
    cmd: mkdir -p out && echo \${params.v} > out/write.txt && sleep \${params.wait} && echo late >> out/write.txt
    outs: [out/write.txt]
  module:
    module: stages/slow.ts
    params: [v, wait]
    outs: [out/module.txt]
`,
      'stages/slow.ts': `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  async run(ctx: { params: Record<string, unknown>; outs: readonly string[]; root: string }) {
    writeFileSync(join(ctx.root, 'module-started'), String(process.pid));
    await new Promise((resolve) => setTimeout(resolve, Number(ctx.params.wait) * 1000));
    writeFileSync(ctx.outs[0], String(ctx.params.v));
  },
};
`,
    });
    const first = await project.run('run');
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => project.remove());

  test('the next run stops the orphaned command, puts the old outs back, and the orphan never writes again', async () => {
    const lock = project.read('pipeline.lock');
    // A unique sleep length, so pgrep finds only this test's orphan.
    const started = project.start(['run', 'write', '--set', 'v=2', '--set', 'wait=2.37']);
    await waitFor(() => project.exists('out/write.txt') && project.read('out/write.txt') === '2\n', 'the stage to start writing');
    started.child.kill('SIGKILL');
    await started.done;
    assert.notEqual(pgrep('sleep 2.37'), '', 'the stage outlived the engine (its own process group)');

    const next = await project.run('run', 'write');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /note: cleared a stale run lock left by PID \d+/);
    assert.match(next.stdout, /note: stopped stage write's leftover processes from an interrupted run \(PID \d+/);
    assert.match(next.stdout, /note: put back previous outs left aside by an interrupted run: out\/write\.txt/);
    assert.match(next.stdout, /write\s+skipped \(up to date\)/);
    assert.equal(pgrep('sleep 2.37'), '');
    await sleep(2600); // past the moment the orphan would have appended "late"
    assert.equal(project.read('out/write.txt'), '1\nlate\n');
    assert.equal(project.read('pipeline.lock'), lock);
    assert.ok(!project.exists('.pipeline/tmp') || spawnSync('ls', [project.path('.pipeline/tmp')], { encoding: 'utf8' }).stdout.trim() === '');
  });

  test('a module stage ends by itself when the engine is killed', async () => {
    const started = project.start(['run', 'module', '--set', 'v=3', '--set', 'wait=30']);
    await waitFor(() => project.exists('module-started'), 'the module stage to start');
    const pid = Number(project.read('module-started'));
    started.child.kill('SIGKILL');
    await started.done;
    await waitFor(() => spawnSync('kill', ['-0', String(pid)]).status !== 0, 'the orphaned module stage to end', 5000);
    const next = await project.run('run', 'module');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /module\s+skipped \(up to date\)/);
    assert.equal(project.read('out/module.txt'), '1');
  });

  test('killed before it recorded a stage\'s process group: the next run finds the stage by its run id and stops it', async () => {
    // What a run killed right after starting `write` leaves: the stage's work folder without process.json, the stage running.
    const runId = '20260101-000000-1';
    mkdirSync(project.path(`.pipeline/tmp/${runId}/write`), { recursive: true });
    const orphan = spawn('sleep', ['3.71'], { detached: true, stdio: 'ignore', env: { ...process.env, PIPELINE_RUN_ID: runId, PIPELINE_STAGE: 'write' } });
    orphan.unref();
    const bystander = spawn('sleep', ['3.72'], { detached: true, stdio: 'ignore', env: { ...process.env, PIPELINE_RUN_ID: runId, PIPELINE_STAGE: 'other' } });
    bystander.unref();
    try {
      await waitFor(() => pgrep('sleep 3.71') !== '' && pgrep('sleep 3.72') !== '', 'the orphan to start');
      const next = await project.run('run', 'write');
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stdout, new RegExp(`note: stopped stage write's leftover process from an interrupted run \\(PID ${orphan.pid}\\)`));
      assert.equal(pgrep('sleep 3.71'), '');
      assert.notEqual(pgrep('sleep 3.72'), '', 'another stage\'s process is not touched');
    } finally {
      for (const child of [orphan, bystander]) try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});
