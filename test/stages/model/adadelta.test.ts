/**
 * train.optimizer: adadelta with Keras' lr = 1.0. TF.js's own tf.train.adadelta
 * fails both tests: its first step is the raw gradient (see stages/lib/model/adadelta.ts),
 * which saturates the head at loss ≈ 8 and accuracy 0.5.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { featureClassifier, makeOptimizer } from '../../../stages/lib/model/head.ts';
import { createRng } from '../../../stages/lib/data/random.ts';

before(async () => {
  await tf.setBackend('cpu');
});

/** Keras' Adadelta step on plain numbers: the reference the optimizer must follow. */
function kerasAdadelta(w: number, grads: number[], lr: number, rho = 0.95, eps = 1e-7): number[] {
  let accGrad = 0;
  let accUpdate = 0;
  return grads.map((g) => {
    accGrad = rho * accGrad + (1 - rho) * g * g;
    const update = (Math.sqrt(accUpdate + eps) / Math.sqrt(accGrad + eps)) * g;
    accUpdate = rho * accUpdate + (1 - rho) * update * update;
    w -= lr * update;
    return w;
  });
}

test('adadelta follows the Keras update rule step by step (the first step is ~1.4e-3, not the gradient)', () => {
  const grads = [0.5, -3, 2, 2, 0.01, -1];
  const expected = kerasAdadelta(1, grads, 1.0);
  const w = tf.variable(tf.scalar(1), true, 'adadelta_rule_w');
  const optimizer = makeOptimizer('adadelta', 1.0);
  try {
    grads.forEach((g, step) => {
      const grad = tf.scalar(g);
      optimizer.applyGradients({ [w.name]: grad });
      grad.dispose();
      const got = w.dataSync()[0];
      assert.ok(
        Math.abs(got - expected[step]) < 1e-6 * Math.max(1, Math.abs(expected[step])),
        `step ${step + 1}: w ${got}, Keras ${expected[step]}`,
      );
    });
    assert.ok(Math.abs(1 - expected[0]) < 2e-3, 'the reference itself: a cautious first step');
  } finally {
    optimizer.dispose();
    w.dispose();
  }
});

/** Non-negative features like pooled ReLU maps: 32 channels fire more for dogs, 32 for cats, the rest are noise. */
function pooledLikeFeatures(
  n: number,
  dim: number,
  seed: number,
): { x: tf.Tensor2D; y: tf.Tensor2D; labels: number[] } {
  const rng = createRng(seed);
  const x = new Float32Array(n * dim);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const dog = i % 2;
    labels.push(dog);
    for (let k = 0; k < dim; k++) {
      const signal = (dog && k < 32) || (!dog && k >= 32 && k < 64) ? 1 : 0;
      x[i * dim + k] = rng() * 2 + signal;
    }
  }
  return { x: tf.tensor2d(x, [n, dim]), y: tf.tensor2d(labels, [n, 1]), labels };
}

test('adadelta at lr 1.0 trains the head on a separable 256-dim problem: finite, falling loss and high held-out accuracy', async () => {
  const dim = 256;
  const tensorsBefore = tf.memory().numTensors;
  const train = pooledLikeFeatures(512, dim, 1);
  const heldOut = pooledLikeFeatures(256, dim, 2);
  const head = featureClassifier(dim, 1);
  const optimizer = makeOptimizer('adadelta', 1.0);
  try {
    head.compile({ optimizer, loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const history = await head.fit(train.x, train.y, { epochs: 5, batchSize: 16, shuffle: false, verbose: 0 });
    const losses = history.history['loss'] as number[];
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(
      losses.at(-1)! < 0.3 && losses.at(-1)! < losses[0],
      `loss should fall well below ln 2; got ${losses.map((l) => l.toFixed(3))}`,
    );
    const probs = tf.tidy(() => (head.predict(heldOut.x) as tf.Tensor).dataSync());
    const correct = heldOut.labels.filter((label, i) => (probs[i] > 0.5 ? 1 : 0) === label).length;
    assert.ok(correct / heldOut.labels.length >= 0.95, `held-out accuracy ${correct / heldOut.labels.length}`);
  } finally {
    tf.dispose([train.x, train.y, heldOut.x, heldOut.y]);
    head.dispose();
    optimizer.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor left behind (accumulators included)');
});
