/** Sharded module stages (`shards: N`) on the local executor: shards at once under --jobs, then the merge. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { listRuns } from '../../packages/engine/src/experiments/run-record.ts';
import { Project } from './project-fixture.ts';
import { SHARDED_FILES } from './sharded-fixture.ts';

describe('a sharded module stage, locally', () => {
  let project: Project;
  before(() => {
    project = new Project(SHARDED_FILES);
  });
  after(() => project.remove());

  test('its shards run, each with its own log, and the merge equals the unsharded stage', async () => {
    const result = await project.run('run', '-j', '3');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(project.read('out/sharded/lines.txt'), project.read('out/whole/lines.txt'));
    assert.equal(project.read('out/sharded/count.json'), '{"lines":50}');
    const logs = readdirSync(project.path('.pipeline/logs/sharded'))
      .map((f) => f.replace(/^[\d-]+/, ''))
      .sort();
    assert.deepEqual(logs, ['.log', '.shard-0.log', '.shard-1.log', '.shard-2.log']);
    // A sharded stage's figures are what its merge reported (from the shards' own).
    const recorded = listRuns(project.path('.pipeline')).at(-1)!.stages;
    assert.deepEqual([recorded.sharded.figures, recorded.whole.figures], [{ lines: 50, shards: 3 }, { lines: 50 }]);
    assert.match((await project.run('run')).stdout, /0 ran, 3 skipped/);
    // Neither the shard count nor the resources enter the fingerprint.
    const yaml = project.read('pipeline.yaml');
    project.edit('pipeline.yaml', 'shards: 3', 'shards: 2');
    project.edit('pipeline.yaml', 'cpus: 1, time: 5', 'cpus: 2, time: 9');
    assert.match((await project.run('run')).stdout, /0 ran, 3 skipped/);
    project.write('pipeline.yaml', yaml);
  });

  test('a failing shard fails the stage naming the shard and its log; outs and lock stay', async () => {
    const lock = project.read('pipeline.lock');
    const before = project.read('out/sharded/lines.txt');
    project.write('fail-shard-1', '');
    const result = await project.run('run', 'sharded', '--force');
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /✖ sharded\s+failed \(shard 2\/3 exit 1 — shard log: \.pipeline\/logs\/sharded\/[\d-]+\.shard-1\.log\)/,
    );
    assert.equal(project.read('out/sharded/lines.txt'), before);
    assert.equal(project.read('pipeline.lock'), lock);
  });

  test('shards need a module stage that exports merge', async () => {
    const cmd = new Project({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: touch a\n    outs: [a]\n    shards: 2\n' });
    const noMerge = new Project({
      'pipeline.yaml': 'stages:\n  a:\n    module: stages/a.ts\n    outs: [a]\n    shards: 2\n',
      'stages/a.ts':
        "import { writeFileSync } from 'node:fs';\nexport default { async run(ctx: { outs: string[] }) { writeFileSync(ctx.outs[0], 'x'); } };\n",
    });
    try {
      const invalid = await cmd.run('validate');
      assert.equal(invalid.code, 1);
      assert.match(invalid.stderr, /stage "a" has shards: 2, but only module stages can be sharded/);
      const failed = await noMerge.run('run');
      assert.equal(failed.code, 1);
      const log = readdirSync(noMerge.path('.pipeline/logs/a')).find((f) => !f.includes('shard'))!;
      assert.match(
        noMerge.read(`.pipeline/logs/a/${log}`),
        /stages\/a\.ts: a stage with shards must export merge\(ctx, shardOuts\)/,
      );
      assert.equal(noMerge.exists('a'), false);
    } finally {
      cmd.remove();
      noMerge.remove();
    }
  });
});
