import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accuracy,
  categoricalAccuracy,
  categoricalLogLoss,
  clip,
  clipRow,
  confusion,
  confusionMatrix,
  confusionMatrixOf,
  logLoss,
  perClassAccuracy,
  predictedClasses,
} from '../../../stages/lib/model/metrics.ts';
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
  assert.deepEqual(confusionMatrix(c).matrix, [
    [3, 1],
    [1, 2],
  ]);
  assert.equal(accuracy(labels, probs), 5 / 7);
});

test('bad labels and length mismatches are errors', () => {
  assert.throws(() => confusion([2], [0.5]), /label 2 at index 0/);
  assert.throws(() => logLoss([1, 0], [0.5]), /differ in length/);
});

test('predict.clip by its declared rule, and clipping', () => {
  const parseClip = (value: unknown) =>
    readParams({ params: { 'predict.clip': value }, root: '/', stage: 'predict' }, predictRules).number('predict.clip');
  assert.equal(parseClip(false), 0);
  assert.equal(parseClip(0), 0);
  assert.equal(parseClip(null), 0);
  assert.equal(parseClip(0.005), 0.005);
  assert.throws(() => parseClip(0.7), {
    message: 'predict.clip must be a number in [0, 0.5) (0 or false = off), got 0.7',
  });
  assert.equal(clip(0.999, 0.005), 0.995);
  assert.equal(clip(0.001, 0.005), 0.005);
  assert.equal(clip(0.001, 0), 0.001);
});

test('N classes: log loss of the true class, argmax accuracy (ties to the first), N×N confusion and per-class accuracy', () => {
  const labels = [0, 1, 2, 2];
  const probs = [0.7, 0.2, 0.1, /**/ 0.5, 0.25, 0.25, /**/ 0.1, 0.1, 0.8, /**/ 0.4, 0.4, 0.2];
  const expected = -(Math.log(0.7) + Math.log(0.25) + Math.log(0.8) + Math.log(0.2)) / 4;
  assert.ok(Math.abs(categoricalLogLoss(labels, probs, 3) - expected) < 1e-12);
  assert.ok(Number.isFinite(categoricalLogLoss([1], [1, 0, 0], 3)), 'clipped: a confident miss is finite');
  assert.deepEqual(predictedClasses(probs, 3), [0, 0, 2, 0]);
  assert.equal(categoricalAccuracy(labels, probs, 3), 0.5);
  const m = confusionMatrixOf(labels, predictedClasses(probs, 3), 3);
  assert.deepEqual(m, [
    [1, 0, 0],
    [1, 0, 0],
    [1, 0, 1],
  ]);
  assert.deepEqual(perClassAccuracy(m), [1, 0, 0.5]);
  assert.deepEqual(
    perClassAccuracy([
      [0, 0],
      [1, 1],
    ]),
    [null, 0.5],
    'null for a class with no examples',
  );
  assert.throws(() => categoricalLogLoss([3], [0.2, 0.3, 0.5], 3), /label 3 at index 0 is not a class index 0–2/);
  assert.throws(() => categoricalAccuracy([0, 1], [0.2, 0.3, 0.5], 3), /differ in length/);
});

test('N classes: clipRow clips each class to [c, 1 − c] and renormalises to 1; 0 = off', () => {
  assert.deepEqual(clipRow([0.2, 0.3, 0.5], 0), [0.2, 0.3, 0.5]);
  const r = clipRow([0.9995, 0.0004, 0.0001], 0.001);
  assert.ok(Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(r[1] > 0.00099 && r[1] === r[2], `${r}`);
  assert.ok(r[0] <= 0.999);
});

test('two classes: the confusion matrix is labelled with the classes, cat/dog by default', () => {
  const c = confusion([0, 1], [0.2, 0.9]);
  assert.deepEqual(confusionMatrix(c).labels, ['cat', 'dog']);
  assert.deepEqual(confusionMatrix(c, ['hund', 'katze']), {
    labels: ['hund', 'katze'],
    matrix: [
      [1, 0],
      [0, 1],
    ],
  });
});
