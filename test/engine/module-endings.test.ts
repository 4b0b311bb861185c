/** How a module stage ends decides whether its outs are taken: only a run() that resolved counts as success. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

describe('module stages that end early or never', () => {
  let project: Project;
  before(async () => {
    project = new Project({
      'pipeline.yaml': `params:
  mode: ok
stages:
  m:
    module: stages/m.ts
    params: [mode]
    outs: [out/m.txt]
`,
      'stages/m.ts': `import { writeFileSync } from 'node:fs';
export default {
  async run(ctx: { params: Record<string, unknown>; outs: readonly string[] }) {
    const mode = ctx.params.mode;
    writeFileSync(ctx.outs[0], 'partial ' + String(mode));
    if (mode === 'exit0') process.exit(0);
    if (mode === 'exit3') process.exit(3);
    if (mode === 'pending') await new Promise(() => {});
    writeFileSync(ctx.outs[0], 'complete ' + String(mode));
  },
};
`,
    });
    const first = await project.run('run');
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => project.remove());

  const cases = [
    ['exit0', 'exited 0 before run() finished (process.exit called?)'],
    ['exit3', 'exit 3'],
    ['pending', 'exit 13: run() returned a promise that never settles'],
  ] as const;
  for (const [mode, error] of cases) {
    test(`mode ${mode}: failed (${error}), the old out and lock stay`, async () => {
      const lock = project.read('pipeline.lock');
      const { result, stages } = await project.runJson('--set', `mode=${mode}`);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(stages[0].action, 'failed');
      assert.equal(stages[0].error, error);
      assert.match(project.read(stages[0].log!), /stage m: the process ended before run\(\) finished/);
      assert.equal(project.read('out/m.txt'), 'complete ok');
      assert.equal(project.read('pipeline.lock'), lock);
    });
  }
});
