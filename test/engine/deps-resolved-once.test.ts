/**
 * A glob dep is expanded once: the files a stage receives in ctx.deps are the
 * files that were hashed, even when a matching file appears between planning
 * and the stage's start. The run says so, keeps the result out of the run
 * cache, and the next run runs the stage again with the new file.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

describe('deps resolved once', () => {
  const project = new Project({
    'in/a.txt': 'a\n',
    'in/b.txt': 'b\n',
    'pipeline.yaml': `stages:
  list:
    module: stages/list.ts
    deps: ["in/*.txt"]
    outs: [artifacts/list.txt]
`,
    'stages/list.ts': `import { appendFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
export default {
  async run(ctx: { deps: readonly string[]; outs: readonly string[] }) {
    appendFileSync('counts.txt', 'list\\n');
    writeFileSync(ctx.outs[0], ctx.deps.map((dep) => basename(dep)).join('\\n'));
  },
};
`,
  });
  after(() => project.remove());

  test('a file matching the glob after planning is not handed to the stage; the next run takes it in', async () => {
    const { openProject } = await import('../../packages/engine/src/execution/project-session.ts');
    const { executeRun } = await import('../../packages/engine/src/experiments/execute-run.ts');
    const { PlainReporter } = await import('../../packages/engine/src/logging/plain-reporter.ts');
    const opened = await openProject(project.path('pipeline.yaml'), [], []);
    assert.ok(opened.ok);
    let printed = '';
    const out = { write: (text: string) => ((printed += text), true) } as unknown as NodeJS.WritableStream;
    const outcome = await executeRun({
      project: opened.session,
      forced: new Set(),
      jobs: 1,
      executor: 'local',
      failFast: false,
      verbose: false,
      set: [],
      interrupted: () => assert.fail('no signal was sent'),
      reporter: async (plan) => {
        assert.equal(plan[0].state, 'stale');
        const reporter = new PlainReporter(out);
        const begin = reporter.begin.bind(reporter);
        // Planned (and hashed) already; no stage has started yet.
        reporter.begin = (stages) => {
          project.write('in/c.txt', 'c\n');
          begin(stages);
        };
        return reporter;
      },
    });
    assert.ok(outcome.ok);
    assert.equal(outcome.results[0].action, 'ran', printed);
    assert.equal(project.read('artifacts/list.txt'), 'a.txt\nb.txt');
    assert.match(
      printed,
      /note: stage list: dep in\/\*\.txt changed while the stage waited or ran; its outs are kept but not cached/,
    );
    assert.equal(
      opened.session.workspace.runCache.listRuns().length,
      0,
      'the result is not filed under inputs it did not read',
    );

    const second = await project.runJson();
    assert.equal(second.actions.list, 'ran');
    assert.deepEqual(second.stages[0].reasons, ['dep changed: in/*.txt']);
    assert.equal(project.read('artifacts/list.txt'), 'a.txt\nb.txt\nc.txt');
    const third = await project.runJson();
    assert.equal(third.actions.list, 'skipped');
    assert.equal(project.counts().list, 2);
  });
});
