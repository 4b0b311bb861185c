/** `status` and `--dry-run` say what `run` will do, also below stages that will be restored from the run cache. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

const count = (name: string) => `echo ${name} >> counts.txt`;

describe('planning through run-cache restores', () => {
  let project: Project;
  before(async () => {
    project = new Project({
      'pipeline.yaml': `params:
  v: 1
stages:
  gen:
    cmd: ${count('gen')} && mkdir -p out/gen/sub && echo a\${params.v} > out/gen/a.txt && echo b\${params.v} > out/gen/sub/b.txt
    outs: [out/gen]
  file:
    cmd: ${count('file')} && cat out/gen/a.txt > out/file.txt
    deps: [out/gen/a.txt]
    outs: [out/file.txt]
  sub:
    cmd: ${count('sub')} && ls out/gen/sub > out/sub.txt
    deps: [out/gen/sub]
    outs: [out/sub.txt]
  whole:
    cmd: ${count('whole')} && cat out/file.txt out/sub.txt > out/whole.txt
    deps: [out/file.txt, out/sub.txt]
    outs: [out/whole.txt]
  glob:
    cmd: ${count('glob')} && cat out/gen/*.txt > out/glob.txt
    deps: ["out/gen/*.txt"]
    outs: [out/glob.txt]
`,
    });
    for (const v of ['1', '2']) {
      const result = await project.run('run', '--set', `v=${v}`);
      assert.equal(result.code, 0, result.stderr);
    }
  });
  after(() => project.remove());

  test('after a param round trip every stage that will come back from the cache is shown restorable, and the run agrees', async () => {
    const status = await project.run('status', '--json');
    assert.equal(status.code, 0, status.stderr);
    const states = JSON.parse(status.stdout) as { stage: string; state: string; reasons: string[] }[];
    const byStage = Object.fromEntries(states.map((s) => [s.stage, s]));
    assert.deepEqual(Object.fromEntries(states.map((s) => [s.stage, s.state])), {
      gen: 'restorable',
      file: 'restorable',
      sub: 'restorable',
      whole: 'restorable',
      glob: 'stale',
    });
    assert.deepEqual(byStage.file.reasons, ['dep changed: out/gen/a.txt']);
    assert.deepEqual(byStage.sub.reasons, ['dep changed: out/gen/sub']);
    // A glob over a restored folder is not predicted: it stays stale, saying why.
    assert.deepEqual(byStage.glob.reasons, ['upstream stage gen will be restored']);

    const dry = await project.run('run', '--dry-run', '--json');
    const planned = Object.fromEntries(
      (JSON.parse(dry.stdout) as { stage: string; action: string }[]).map((s) => [s.stage, s.action]),
    );
    assert.deepEqual(planned, {
      gen: 'would-restore',
      file: 'would-restore',
      sub: 'would-restore',
      whole: 'would-restore',
      glob: 'would-run',
    });

    const before = project.counts();
    const { result, actions } = await project.runJson();
    assert.equal(result.code, 0, result.stderr);
    // The glob stage's inputs went back to an earlier state too, so the run restores it.
    assert.deepEqual(actions, {
      gen: 'restored',
      file: 'restored',
      sub: 'restored',
      whole: 'restored',
      glob: 'restored',
    });
    assert.deepEqual(project.counts(), before, 'nothing executed');
    assert.equal(project.read('out/whole.txt'), 'a1\nb.txt\n');
  });
});
