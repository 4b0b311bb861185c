import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropoutMask } from '../../../stages/lib/model/head.ts';
import { createRng } from '../../../stages/lib/data/random.ts';

test('dropoutMask keeps about 1 − rate of the values, scaled by 1 / (1 − rate)', () => {
  const mask = dropoutMask(100, 200, 0.5, createRng(3));
  const kept = mask.filter((v) => v !== 0);
  assert.ok(Math.abs(kept.length / mask.length - 0.5) < 0.02, `kept ${kept.length} of ${mask.length}`);
  assert.ok(kept.every((v) => v === 2));
  const mean = mask.reduce((a, b) => a + b, 0) / mask.length;
  assert.ok(Math.abs(mean - 1) < 0.04, 'inverted dropout keeps the expected value');
});

test('dropoutMask is a function of the seed', () => {
  assert.deepEqual(dropoutMask(4, 8, 0.3, createRng(9)), dropoutMask(4, 8, 0.3, createRng(9)));
  assert.notDeepEqual(dropoutMask(4, 8, 0.3, createRng(9)), dropoutMask(4, 8, 0.3, createRng(10)));
  assert.ok(dropoutMask(2, 3, 0, createRng(1)).every((v) => v === 1));
  assert.throws(() => dropoutMask(2, 3, 1, createRng(1)), /model\.dropout must be a number in \[0, 1\), got 1/);
});
