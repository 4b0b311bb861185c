/** The `executor:` block and per-stage `resources:` / `shards:`: validated, resolved, mapped to sbatch flags, never fingerprinted. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePipeline } from '../../packages/engine/src/config/load.ts';
import { sbatchResourceFlags } from '../../packages/engine/src/execution/executors/slurm.ts';

const FILE = '/tmp/project/pipeline.yaml';

describe('executor and resources', () => {
  test('resolve, with stage resources over the block defaults as sbatch flags', async () => {
    const loaded = await parsePipeline(
      FILE,
      `executor: { type: slurm, partition: gpu, account: lab, poll_seconds: 2, resources: { mem: 4G, time: 30 } }
stages:
  a:
    cmd: touch a
    outs: [a]
    resources: { cpus: 4, time: "1:30:00", gpus: 1 }
`,
    );
    assert.ok(loaded.ok);
    const { executor } = loaded.pipeline;
    assert.deepEqual(executor, {
      type: 'slurm',
      partition: 'gpu',
      account: 'lab',
      pollSeconds: 2,
      resources: { mem: '4G', time: '30' },
    });
    const stage = loaded.pipeline.stages.get('a')!;
    assert.deepEqual(stage.resources, { cpus: 4, time: '1:30:00', gpus: 1 });
    assert.equal(stage.shards, 1);
    assert.deepEqual(sbatchResourceFlags({ ...executor.resources, ...stage.resources }), [
      '--cpus-per-task=4',
      '--mem=4G',
      '--time=1:30:00',
      '--gres=gpu:1',
    ]);
  });

  test('bad values get specific errors', async () => {
    const loaded = await parsePipeline(
      FILE,
      `executor: { type: pbs, poll_seconds: 0.5 }
stages:
  a:
    cmd: touch a
    outs: [a]
    shards: 2
    resources: { mem: lots, time: 1h }
`,
    );
    assert.equal(loaded.ok, false);
    const messages = (loaded.ok ? [] : loaded.diagnostics).map((d) => d.message);
    assert.ok(
      messages.some((m) => /"executor.type" must be equal to one of the allowed values/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /"executor.poll_seconds" must be >= 1/.test(m)),
      messages.join('\n'),
    );
    assert.ok(messages.includes('"resources.mem" of stage "a" "lots" is not a memory size'), messages.join('\n'));
    assert.ok(messages.includes('"resources.time" of stage "a" "1h" is not a time limit'), messages.join('\n'));
    assert.ok(messages.includes('stage "a" has shards: 2, but only module stages can be sharded'), messages.join('\n'));
  });
});
