import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accuracy, clip, confusion, confusionMatrix, logLoss } from '../../../stages/lib/model/metrics.ts';
import { readParams } from '../../../stages/lib/stage/params.ts';
import predictRules from '../../../stages/predict.params.ts';

test('log loss matches the formula', () => {
  const expected = -(Math.log(0.9) + Math.log(1 - 0.2) + Math.log(0.6)) / 3;
  assert.ok(Math.abs(logLoss([1, 0, 1], [0.9, 0.2, 0.6]) - expected) < 1e-12);
});

test('log loss clips so a confident miss is finite', () => {
  const l = logLoss([1, 0], [0, 1]);
  assert.ok(Number.isFinite(l));
  // 1 − (1 − 1e-15) is not exactly 1e-15 in doubles, hence the loose bound.
  assert.ok(Math.abs(l - -Math.log(1e-15)) < 1e-3);
  assert.ok(Math.abs(logLoss([1], [0], 0.005) - -Math.log(0.005)) < 1e-12);
});

test('confusion counts with dog as positive', () => {
  const labels = [1, 1, 1, 0, 0, 0, 0];
  const probs = [0.9, 0.7, 0.2, 0.1, 0.6, 0.3, 0.5];
  const c = confusion(labels, probs);
  assert.deepEqual(c, { tp: 2, fn: 1, fp: 1, tn: 3 });
  assert.deepEqual(confusionMatrix(c).matrix, [[3, 1], [1, 2]]);
  assert.equal(accuracy(labels, probs), 5 / 7);
});

test('bad labels and length mismatches are errors', () => {
  assert.throws(() => confusion([2], [0.5]), /label 2 at index 0/);
  assert.throws(() => logLoss([1, 0], [0.5]), /differ in length/);
});

test('predict.clip by its declared rule, and clipping', () => {
  const parseClip = (value: unknown) => readParams({ params: { 'predict.clip': value }, root: '/', stage: 'predict' }, predictRules).number('predict.clip');
  assert.equal(parseClip(false), 0);
  assert.equal(parseClip(0), 0);
  assert.equal(parseClip(null), 0);
  assert.equal(parseClip(0.005), 0.005);
  assert.throws(() => parseClip(0.7), { message: 'predict.clip must be a number in [0, 0.5) (0 or false = off), got 0.7' });
  assert.equal(clip(0.999, 0.005), 0.995);
  assert.equal(clip(0.001, 0.005), 0.005);
  assert.equal(clip(0.001, 0), 0.001);
});
