/** A run killed outright (SIGKILL, no chance to clean up): its stages stop, and the next run puts everything back. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { GATE_MODULE, StageGates, isRunning } from '../stage-gate.ts';
import { Project, waitFor } from './project-fixture.ts';

describe('a run killed with SIGKILL', () => {
  let project: Project;
  let gates: StageGates;
  before(async () => {
    project = new Project({
      'pipeline.yaml': `params:
  v: 1
  gate: open
stages:
  write:
    cmd: mkdir -p out && echo \${params.v} > out/write.txt && sh gates/\${params.gate}.sh && echo late >> out/write.txt
    outs: [out/write.txt]
  module:
    module: stages/slow.ts
    params: [v, gate]
    outs: [out/module.txt]
`,
      'stages/slow.ts': `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gate } from ${JSON.stringify(GATE_MODULE)};
export default {
  async run(ctx: { params: Record<string, unknown>; outs: readonly string[]; root: string }) {
    if (ctx.params.gate !== 'open') await gate(join(ctx.root, 'gates'), String(ctx.params.gate));
    writeFileSync(ctx.outs[0], String(ctx.params.v));
  },
};
`,
    });
    // The write stage runs gates/<param gate>.sh: "open" passes at once, "held" waits for the test.
    gates = new StageGates(project.path('gates'));
    project.write('gates/open.sh', 'true\n');
    project.write('gates/held.sh', `${gates.cmd('held')}\n`);
    const first = await project.run('run');
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => project.remove());

  test('the next run stops the orphaned command, puts the old outs back, and the orphan never writes again', async () => {
    const lock = project.read('pipeline.lock');
    const started = project.start(['run', 'write', '--set', 'v=2', '--set', 'gate=held']);
    await gates.waitStarted('held');
    assert.equal(project.read('out/write.txt'), '2\n');
    started.child.kill('SIGKILL');
    await started.done;
    // The gate and the stage's shell, which would append "late" once the gate opens.
    const stage = gates.pids('held');
    assert.ok(stage.every(isRunning), 'the stage outlived the engine (its own process group)');

    const next = await project.run('run', 'write');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /note: cleared a stale run lock left by PID \d+/);
    assert.match(next.stdout, /note: stopped stage write's leftover processes from an interrupted run \(PID \d+/);
    assert.match(next.stdout, /note: put back previous outs left aside by an interrupted run: out\/write\.txt/);
    assert.match(next.stdout, /write\s+skipped \(up to date\)/);
    assert.deepEqual(stage.filter(isRunning), [], 'the orphaned stage was stopped');
    gates.release('held'); // nothing is left to pass the gate and append "late"
    assert.equal(project.read('out/write.txt'), '1\nlate\n');
    assert.equal(project.read('pipeline.lock'), lock);
    assert.ok(
      !project.exists('.pipeline/tmp') ||
        spawnSync('ls', [project.path('.pipeline/tmp')], { encoding: 'utf8' }).stdout.trim() === '',
    );
  });

  test('a module stage ends by itself when the engine is killed', async () => {
    const started = project.start(['run', 'module', '--set', 'v=3', '--set', 'gate=module']);
    await gates.waitStarted('module');
    const [pid] = gates.pids('module');
    started.child.kill('SIGKILL');
    await started.done;
    await waitFor(() => !isRunning(pid), 'the orphaned module stage to end');
    const next = await project.run('run', 'module');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /module\s+skipped \(up to date\)/);
    assert.equal(project.read('out/module.txt'), '1');
  });

  test("killed before it recorded a stage's process group: the next run finds the stage by its run id and stops it", async () => {
    // What a run killed right after starting `write` leaves: the stage's work folder without process.json, the stage running.
    const runId = '20260101-000000-1';
    mkdirSync(project.path(`.pipeline/tmp/${runId}/write`), { recursive: true });
    const [sh, ...orphanArgs] = gates.argv('orphan');
    const orphan = spawn(sh, orphanArgs, {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, PIPELINE_RUN_ID: runId, PIPELINE_STAGE: 'write' },
    });
    orphan.unref();
    const bystander = spawn(sh, gates.argv('bystander').slice(1), {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, PIPELINE_RUN_ID: runId, PIPELINE_STAGE: 'other' },
    });
    bystander.unref();
    try {
      await gates.waitStarted('orphan');
      await gates.waitStarted('bystander');
      const next = await project.run('run', 'write');
      assert.equal(next.code, 0, next.stderr);
      // The gate's shell and, at that moment, perhaps its poll's `sleep`: each of them carries the stage's marks.
      assert.match(
        next.stdout,
        new RegExp(
          `note: stopped stage write's leftover process(es)? from an interrupted run \\(PID (\\d+, )*${orphan.pid}(, \\d+)*\\)`,
        ),
      );
      assert.equal(isRunning(orphan.pid!), false);
      assert.equal(isRunning(bystander.pid!), true, "another stage's process is not touched");
    } finally {
      for (const child of [orphan, bystander])
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
    }
  });
});
