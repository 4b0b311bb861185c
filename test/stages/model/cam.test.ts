import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { camHeatmap, camWeights, classActivationMap, normalise, upsample } from '../../../stages/lib/model/cam.ts';
import {
  featureClassifier,
  headProbabilities,
  readHeadWeights,
  writeHeadWeights,
} from '../../../stages/lib/model/head.ts';

// 2×2 maps with 3 channels, NHWC: position p, channel k = value.
// p0: [1,0,0] p1: [0,1,0] p2: [0,0,1] p3: [1,1,1]
const maps = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]);

test('CAM is the weighted sum of the maps per position', () => {
  const cam = classActivationMap(maps, 2, 2, [2, -1, 0.5]);
  assert.deepEqual(Array.from(cam), [2, -1, 0.5, 1.5]);
  // The cat map is the dog map negated.
  assert.deepEqual(Array.from(classActivationMap(maps, 2, 2, [-2, 1, -0.5])), [-2, 1, -0.5, -1.5]);
});

test('normalisation maps min→0, max→1', () => {
  assert.deepEqual(Array.from(normalise(new Float32Array([2, -1, 0.5, 1.5]))), [1, 0, 0.5, 2.5 / 3].map(Math.fround));
  assert.deepEqual(Array.from(normalise(new Float32Array([3, 3]))), [0, 0]);
});

test('upsampling keeps corners and interpolates between them', () => {
  const up = upsample(new Float32Array([0, 1, 2, 3]), 2, 2, 4, 4);
  assert.equal(up[0], 0);
  assert.equal(up[15], 3);
  // Row 0: x centres map to -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped 1).
  assert.deepEqual(Array.from(up.slice(0, 4)), [0, 0.25, 0.75, 1]);
  // Column 0 goes through 0 → 2 the same way.
  assert.deepEqual([up[0], up[4], up[8], up[12]], [0, 0.5, 1.5, 2]);
});

test('heatmap peaks where the weighted evidence is', () => {
  const heat = camHeatmap(maps, 2, 2, [2, -1, 0.5], 2);
  assert.deepEqual(Array.from(heat), Array.from(normalise(new Float32Array([2, -1, 0.5, 1.5]))));
  assert.equal(heat.indexOf(Math.max(...heat)), 0);
});

test('shape mismatch is a clear error', () => {
  assert.throws(() => classActivationMap(maps, 2, 2, [1, 1]), /expected 2×2×2/);
});

test('camWeights: two classes use w for the second and −w for the first; a softmax head uses its kernel column', () => {
  const sigmoid = { kernel: [2, -1, 0.5], bias: 0 };
  assert.deepEqual(camWeights(sigmoid, 1), [2, -1, 0.5]);
  assert.deepEqual(camWeights(sigmoid, 0), [-2, 1, -0.5]);
  // 3 channels × 3 classes, row-major: channel k, class j at k·3 + j.
  const softmax = { units: 3, kernel: [1, 2, 3, 4, 5, 6, 7, 8, 9], bias: [0, 0, 0] };
  assert.deepEqual(camWeights(softmax, 0), [1, 4, 7]);
  assert.deepEqual(camWeights(softmax, 2), [3, 6, 9]);
  assert.throws(() => camWeights(softmax, 3), /class 3 is not one of the head's 3/);
});

test('a softmax head in plain JS agrees with its TF.js Dense(3, softmax) layer, rows adding up to 1', async () => {
  await tf.setBackend('cpu');
  const model = featureClassifier(4, 7, 3);
  const weights = readHeadWeights(model);
  assert.ok('units' in weights && weights.units === 3);
  const pooled = new Float32Array([0.1, 0.9, -0.3, 2, 1, 1, 1, 1, -5, 0, 5, 0.5]);
  const js = headProbabilities(pooled, 4, weights);
  const fromTf = tf.tidy(() => (model.predict(tf.tensor2d(pooled, [3, 4])) as tf.Tensor).dataSync());
  for (let i = 0; i < js.length; i++) assert.ok(Math.abs(js[i] - fromTf[i]) < 1e-6, `${i}: ${js[i]} vs ${fromTf[i]}`);
  for (let r = 0; r < 3; r++) assert.ok(Math.abs(js[r * 3] + js[r * 3 + 1] + js[r * 3 + 2] - 1) < 1e-6);
  // Written back into a model and read again: the same weights.
  const other = featureClassifier(4, 8, 3);
  writeHeadWeights(other, weights);
  assert.deepEqual(readHeadWeights(other as unknown as tf.LayersModel), weights);
  assert.throws(
    () => writeHeadWeights(featureClassifier(4, 8, 1), weights),
    /head weights are 4 inputs × 3 outputs but the model's head_dense is 4 × 1/,
  );
  model.dispose();
  other.dispose();
});
