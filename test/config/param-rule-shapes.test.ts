/** Number rules that also take a word, a per-choice mapping or a pair (train.lr, runtime.batch_size, augment.zoom_range). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkParam, param } from '../../packages/engine/src/param-rules.ts';

const lr = param.number({
  gt: 0,
  orAuto: true,
  perChoice: ['adam', 'sgd'],
  optional: true,
  description: 'learning rate',
});
const zoom = param.number({ min: 0, lt: 1, pair: { gt: 0, max: 10 }, default: 0, description: 'zoom' });

test('a number rule with orAuto and perChoice accepts a number, auto, unset and a mapping of the choices', () => {
  assert.deepEqual(checkParam('train.lr', lr, 0.01), { ok: true, value: 0.01 });
  assert.deepEqual(checkParam('train.lr', lr, 'auto'), { ok: true, value: 'auto' });
  assert.deepEqual(checkParam('train.lr', lr, null), { ok: true, value: undefined });
  assert.deepEqual(checkParam('train.lr', lr, { adam: 0.003 }), { ok: true, value: { adam: 0.003 } });
});

test('it names what is wrong: a word, an unknown choice, a bad value in the mapping', () => {
  const fast = checkParam('train.lr', lr, 'fast');
  assert.equal(fast.ok, false);
  assert.equal(
    !fast.ok && fast.message,
    'train.lr must be a number > 0, auto, or a mapping adam / sgd → number > 0, got "fast"',
  );
  const unknown = checkParam('train.lr', lr, { adamw: 0.1 });
  assert.match(!unknown.ok ? unknown.message : '', /^train\.lr\.adamw: "adamw" is not one of adam, sgd/);
  const negative = checkParam('train.lr', lr, { sgd: -1 });
  assert.equal(!negative.ok && negative.message, 'train.lr.sgd must be a number > 0, got -1');
});

test('a number rule with a pair accepts a number in bounds or an ordered pair in its bounds', () => {
  assert.deepEqual(checkParam('augment.zoom_range', zoom, 0.2), { ok: true, value: 0.2 });
  assert.deepEqual(checkParam('augment.zoom_range', zoom, [0.8, 1.2]), { ok: true, value: [0.8, 1.2] });
  for (const bad of [[1.2, 0.8], [0, 1], [0.5, 20], [0.5], 1.5]) {
    const checked = checkParam('augment.zoom_range', zoom, bad);
    assert.equal(checked.ok, false, JSON.stringify(bad));
    assert.match(
      !checked.ok ? checked.message : '',
      /must be a number in \[0, 1\), or a pair \[lo, hi\] with 0 < lo ≤ hi ≤ 10/,
    );
  }
});
