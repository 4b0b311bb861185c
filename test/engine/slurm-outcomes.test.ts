/**
 * Typed outcomes survive the trip through Slurm: a stage's user error comes back
 * as the same one line as locally (the module runner leaves it in a result file,
 * a cluster job having no IPC channel). Against a real slurmctld/slurmd (start
 * one with `bash scripts/slurm-cluster.sh up`; CI does).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { Project, type JsonStage } from './project-fixture.ts';

const hasSlurm = spawnSync('sinfo', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = hasSlurm
  ? false
  : 'Slurm is not installed (no sinfo on PATH): start a one-node cluster with `bash scripts/slurm-cluster.sh up`';

const FILES = {
  'pipeline.yaml': `executor: { poll_seconds: 1 }
params:
  size: -3
stages:
  check:
    module: stages/check.ts
    params: [size]
    outs: [out/check.txt]
  crash:
    module: stages/crash.ts
    outs: [out/crash.txt]
`,
  // A copy of StageUserError: recognised by its mark, as src/contract.ts says.
  'stages/check.ts': `class StageUserError extends Error { readonly userError = true; }
export default {
  async run(ctx: { params: Record<string, unknown> }) {
    throw new StageUserError(\`size must be positive,
      got \${String(ctx.params.size)}\`);
  },
};
`,
  'stages/crash.ts': `export default {
  async run() {
    const value = undefined as unknown as { field: number };
    return value.field;
  },
};
`,
};

describe('typed outcomes on slurm', { skip }, () => {
  const local = new Project(FILES);
  const slurm = new Project(FILES);
  after(() => {
    local.remove();
    slurm.remove();
  });

  const failures = async (project: Project, ...args: string[]): Promise<Record<string, JsonStage>> => {
    const r = await project.runJson('--keep-going', ...args);
    assert.equal(r.result.code, 1, r.result.stderr);
    return Object.fromEntries(r.stages.map((s) => [s.stage, s]));
  };

  test("a stage's user error is the same one line on Slurm as locally; a bug stays an exit status", async () => {
    const [here, there] = await Promise.all([failures(local), failures(slurm, '--executor', 'slurm')]);
    assert.deepEqual(here.check.failure, { kind: 'user-error', message: 'size must be positive, got -3' });
    assert.deepEqual(there.check.failure, here.check.failure);
    assert.equal(there.check.error, here.check.error);
    assert.deepEqual(here.crash.failure, { kind: 'exit', code: 1 });
    assert.equal(there.crash.failure?.kind, 'exit');
    assert.equal(there.crash.failure?.code, 1);
    // The stack is in the log, not the result line.
    assert.match(slurm.read(there.crash.log!), /TypeError: Cannot read properties of undefined/);
  });

  test('the terminal shows that line for the Slurm run, as for the local one', async () => {
    const [here, there] = await Promise.all([
      local.run('run', 'check'),
      slurm.run('run', 'check', '--executor', 'slurm'),
    ]);
    const line = (output: string) =>
      output
        .split('\n')
        .find((l) => l.startsWith('error: stage check failed'))
        ?.replace(/\.pipeline\/logs\/\S+/, 'LOG');
    assert.equal(here.code, 1);
    assert.equal(there.code, 1);
    assert.ok(line(here.stdout + here.stderr)?.includes('size must be positive, got -3'), here.stdout + here.stderr);
    assert.equal(line(there.stdout + there.stderr), line(here.stdout + here.stderr));
  });
});
