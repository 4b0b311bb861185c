/** A URL dep: identified by the URL itself, passed through to the stage as written, never fetched to plan. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

describe('URL deps', () => {
  // Port 9 (discard) on loopback: if the engine tried to fetch it, the run would fail.
  const url = 'http://127.0.0.1:9/models/model.json';
  const project = new Project({
    'pipeline.yaml': `params:
  model:
    source: ${url}
stages:
  fetch:
    module: stages/fetch.ts
    deps: ["\${params.model.source}"]
    outs: [artifacts/source.txt]
`,
    'stages/fetch.ts': `import { appendFileSync, writeFileSync } from 'node:fs';
export default {
  async run(ctx: { deps: readonly string[]; outs: readonly string[] }) {
    appendFileSync('counts.txt', 'fetch\\n');
    writeFileSync(ctx.outs[0], ctx.deps.join('\\n'));
  },
};
`,
  });
  after(() => project.remove());

  test('validates, runs with the URL as the dep, then is up to date', async () => {
    const first = await project.runJson();
    assert.equal(first.result.code, 0, first.result.stderr);
    assert.equal(first.actions.fetch, 'ran');
    assert.equal(project.read('artifacts/source.txt'), url);
    assert.match(project.read('pipeline.lock'), /127\.0\.0\.1:9\/models\/model\.json/);
    const second = await project.runJson();
    assert.equal(second.actions.fetch, 'skipped');
  });

  test('another URL reruns the stage', async () => {
    const { actions } = await project.runJson('--set', 'model.source=https://example.invalid/v2/model.json');
    assert.equal(actions.fetch, 'ran');
    assert.deepEqual(project.counts(), { fetch: 2 });
  });

  test('a URL cannot be an out', async () => {
    project.edit('pipeline.yaml', 'outs: [artifacts/source.txt]', `outs: ["${url}"]`);
    const result = await project.run('validate');
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /must lie inside the project folder/);
  });
});
