import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeProgress, formatSeconds } from '../../packages/engine/src/logging/stage-line.ts';

test('progress: done/total with percent, metrics to 4 significant digits, then the message', () => {
  assert.equal(
    describeProgress({
      done: 16,
      total: 500,
      metrics: { 'images/s': 4.8, val_loss: 0.022319, epoch: 3 },
      message: 'ETA 1m41s',
    }),
    '16/500 (3%)  images/s=4.8  val_loss=0.02232  epoch=3  ETA 1m41s',
  );
  assert.equal(describeProgress({ done: 0, total: 0, message: 'loading' }), 'loading');
});

test('durations: tenths under 10 s, whole seconds under 2 min, then minutes and padded seconds', () => {
  assert.equal(formatSeconds(2.26), '2.3s');
  assert.equal(formatSeconds(68.4), '68s');
  assert.equal(formatSeconds(304.9), '5m04s');
});

test('param values in reasons: plain strings bare, empty or padded strings quoted, others as JSON', async () => {
  const { formatValue } = await import('../../packages/engine/src/logging/reason-text.ts');
  assert.equal(formatValue('labels.csv'), 'labels.csv');
  assert.equal(formatValue(''), '""');
  assert.equal(formatValue(' x'), '" x"');
  assert.equal(formatValue(0.001), '0.001');
  assert.equal(formatValue(null), 'null');
  assert.equal(formatValue([1, 2]), '[1,2]');
});

test('param changes in reasons: mappings key by key, long values cut around the first difference', async () => {
  const { staleReasons } = await import('../../packages/engine/src/execution/stale-reasons.ts');
  const { describeReason, formatChange } = await import('../../packages/engine/src/logging/reason-text.ts');
  const locked = (params: Record<string, unknown>) => ({ fingerprint: 'f', cmd: 'c', params, deps: [], outs: [] });
  const current = (params: Record<string, unknown>) => ({
    hash: 'g',
    code: { cmd: 'c' },
    params,
    deps: [],
    inputs: [],
    outs: [],
    missingDeps: [],
  });
  const before = { aug: { flip: true, zoom: 0.2, extra: { a: [1, 2] } }, lr: 0.1 };
  const after = { aug: { flip: false, zoom: 0.2, extra: { a: [1, 3] }, shear: 0.1 }, lr: 0.1 };
  assert.deepEqual(staleReasons(current(after), [], locked(before)).map(describeReason), [
    'params changed: aug.flip true → false',
    'params changed: aug.extra.a [1,2] → [1,3]',
    'params changed: aug.shear (unset) → 0.1',
  ]);
  const prefix = 'x'.repeat(100);
  const change = formatChange(`${prefix}-old-tail`, `${prefix}-new-tail`);
  assert.equal(change, `...${'x'.repeat(19)}-old-tail → ...${'x'.repeat(19)}-new-tail`); // 20 characters of context before the first difference
  const long = formatChange('a'.repeat(200), 'b');
  assert.ok(long.startsWith('a'.repeat(54) + '... → b'), long);
});

test('a param interpolated into a cmd is not also reported as "command changed", even when its value appears elsewhere in the command', async () => {
  const { staleReasons } = await import('../../packages/engine/src/execution/stale-reasons.ts');
  const { describeReason } = await import('../../packages/engine/src/logging/reason-text.ts');
  const template = 'train --epochs ${params.epochs} --seed 1';
  const locked = { fingerprint: 'f', cmd: 'train --epochs 2 --seed 1', params: { epochs: 2 }, deps: [], outs: [] };
  const current = (cmd: string, template: string) => ({
    hash: 'g',
    code: { cmd, template },
    params: { epochs: 1 },
    deps: [],
    inputs: [],
    outs: [],
    missingDeps: [],
  });
  assert.deepEqual(staleReasons(current('train --epochs 1 --seed 1', template), [], locked), [
    { kind: 'param-changed', key: 'epochs', before: 2, after: 1 },
  ]);
  assert.deepEqual(
    staleReasons(current('train --epochs 1 --seed 2', template.replace('seed 1', 'seed 2')), [], locked).map(
      describeReason,
    ),
    ['params changed: epochs 2 → 1', 'command changed'],
  );
});

test('every failure kind has its words: exit codes, Slurm job states, shards, missing outs', async () => {
  const { describeFailure } = await import('../../packages/engine/src/execution/stage-failure.ts');
  assert.equal(describeFailure({ kind: 'exit', code: 2 }), 'exit 2');
  assert.equal(
    describeFailure({ kind: 'exit', code: 1, job: { id: '42', state: 'FAILED' } }),
    'exit 1 (Slurm job 42 FAILED)',
  );
  assert.equal(
    describeFailure({ kind: 'job-ended', job: { id: '7', state: 'TIMEOUT' }, detail: 'time limit 00:01:00' }),
    'Slurm job 7 TIMEOUT (time limit 00:01:00)',
  );
  assert.equal(describeFailure({ kind: 'missing-outs', paths: ['a', 'b'] }), 'did not produce out a, b');
  assert.equal(
    describeFailure({
      kind: 'shard',
      index: 1,
      count: 4,
      failure: { kind: 'killed', signal: 'SIGKILL' },
      log: '.pipeline/logs/f/x.shard-1.log',
    }),
    'shard 2/4 killed by SIGKILL — shard log: .pipeline/logs/f/x.shard-1.log',
  );
});
