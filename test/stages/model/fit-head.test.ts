/**
 * Head training on cached features: fresh draws per epoch (one version of every
 * training image each epoch, seeded) and Keras' default learning rates.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { FeatureRow, FeatureTable } from '../../../stages/lib/inference/feature-store.ts';
import { drawEpochRows, fitHead, versionsByImage } from '../../../stages/lib/model/fit-head.ts';
import { headProbabilities, KERAS_DEFAULT_LR, resolveLearningRate } from '../../../stages/lib/model/head.ts';
import { createRng } from '../../../stages/lib/data/random.ts';

before(async () => {
  await tf.setBackend('cpu');
});

/** `images` train images with `copies` augmented versions each, then 20 val images; features separable on 4 channels. */
function syntheticTable(images: number, copies: number, dim = 16): FeatureTable {
  const rng = createRng(9);
  const rows: FeatureRow[] = [];
  const values: number[] = [];
  const add = (split: 'train' | 'val', copy: number, label: number, path: string) => {
    rows.push({ split, copy, label, path });
    for (let k = 0; k < dim; k++)
      values.push(rng() + (k < 4 && label === 1 ? 0.8 : 0) + (k >= 4 && k < 8 && label === 0 ? 0.8 : 0));
  };
  for (let i = 0; i < images; i++) for (let c = 0; c <= copies; c++) add('train', c, i % 2, `train/${i}.jpg`);
  for (let i = 0; i < 20; i++) add('val', 0, i % 2, `val/${i}.jpg`);
  return { dim, rows, values: Float32Array.from(values) };
}

test("versionsByImage groups every image's original and copies; val rows are left out", () => {
  const table = syntheticTable(5, 2);
  const versions = versionsByImage(table);
  assert.equal(versions.length, 5);
  for (const [i, v] of versions.entries()) {
    assert.deepEqual(v, [3 * i, 3 * i + 1, 3 * i + 2]);
    assert.ok(v.every((r) => table.rows[r].path === `train/${i}.jpg`));
  }
});

test('each epoch draws one version of every image, reproducibly from the seed, and every version comes up', () => {
  const versions = Array.from({ length: 200 }, (_, i) => [2 * i, 2 * i + 1]); // copies: 1 → 2 versions
  const draw = (seed: number) => {
    const rng = createRng(seed);
    return Array.from({ length: 3 }, () => drawEpochRows(versions, rng));
  };
  const epochs = draw(4);
  assert.deepEqual(epochs, draw(4), 'same seed, same draws');
  assert.notDeepEqual(epochs, draw(5), 'another seed, other draws');
  for (const rows of epochs) {
    assert.equal(rows.length, versions.length, 'one row per image');
    rows.forEach((r, i) => assert.ok(versions[i].includes(r)));
    const copies = rows.filter((r) => r % 2 === 1).length;
    assert.ok(copies > 70 && copies < 130, `${copies}/200 augmented copies drawn (about half expected)`);
  }
  assert.notDeepEqual(epochs[0], epochs[1], 'epochs differ: fresh draws, not one fixed copy');
  assert.deepEqual(drawEpochRows([[7], [9]], createRng(1)), [7, 9], 'without copies every epoch is the originals');
});

test('fitHead trains one row per image per epoch, deterministically, and learns a separable problem', async () => {
  const table = syntheticTable(60, 1);
  const hp = { optimizer: 'adam' as const, lr: 0.01, epochs: 6, batchSize: 8, dropout: 0.5, patience: 0, seed: 3 };
  const tensorsBefore = tf.memory().numTensors;
  const a = await fitHead(table, hp);
  const b = await fitHead(table, hp);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaks');
  assert.deepEqual([a.trainImages, a.trainRows, a.valRows], [60, 120, 20]);
  assert.deepEqual(
    a.history.map((h) => h.val_loss),
    b.history.map((h) => h.val_loss),
    'seeded: the same run twice',
  );
  assert.deepEqual(a.best.weights, b.best.weights);
  assert.ok(a.best.val_accuracy >= 0.9, `val accuracy ${a.best.val_accuracy}`);
  assert.equal(a.history.length, 6);
});

test("train.lr: a number for any optimizer, a per-optimizer mapping, or unset/auto for Keras' default", () => {
  assert.deepEqual(KERAS_DEFAULT_LR, { adam: 0.001, adadelta: 1.0, sgd: 0.01, rmsprop: 0.001 });
  assert.deepEqual(resolveLearningRate(0.003, 'adadelta'), { lr: 0.003, source: 'train.lr' });
  assert.deepEqual(resolveLearningRate({ adam: 0.003 }, 'adam'), { lr: 0.003, source: 'train.lr.adam' });
  assert.deepEqual(resolveLearningRate({ adam: 0.003 }, 'adadelta'), {
    lr: 1.0,
    source: "Keras' default for adadelta",
  });
  for (const unset of [undefined, null, '', 'auto']) {
    assert.equal(resolveLearningRate(unset, 'sgd').lr, 0.01, String(unset));
    assert.equal(resolveLearningRate(unset, 'rmsprop').lr, 0.001, String(unset));
  }
  assert.throws(
    () => resolveLearningRate(-1, 'adam'),
    /train\.lr must be a number > 0, auto, or a mapping of optimizer \(adam, adadelta, sgd, rmsprop\) → number > 0, got -1/,
  );
  assert.throws(() => resolveLearningRate('fast', 'adam'), /got "fast"/);
  assert.throws(() => resolveLearningRate({ adamw: 0.1 }, 'adam'), /train\.lr\.adamw: unknown optimizer/);
  assert.throws(() => resolveLearningRate({ adam: 0 }, 'adam'), /train\.lr\.adam must be a number > 0, got 0/);
});

test('three classes: a softmax Dense(3) trained with categorical cross-entropy learns a separable problem, deterministically', async () => {
  const dim = 12;
  const rng = createRng(5);
  const rows: FeatureRow[] = [];
  const values: number[] = [];
  // Class c lifts channels 4c … 4c + 3.
  const add = (split: 'train' | 'val', label: number, path: string) => {
    rows.push({ split, copy: 0, label, path });
    for (let k = 0; k < dim; k++) values.push(rng() + (Math.floor(k / 4) === label ? 0.8 : 0));
  };
  for (let i = 0; i < 60; i++) add('train', i % 3, `train/${i}.jpg`);
  for (let i = 0; i < 21; i++) add('val', i % 3, `val/${i}.jpg`);
  const table: FeatureTable = { dim, rows, values: Float32Array.from(values) };
  const hp = { optimizer: 'adam' as const, lr: 0.02, epochs: 8, batchSize: 8, dropout: 0.2, patience: 0, seed: 3 };
  const tensorsBefore = tf.memory().numTensors;
  const a = await fitHead(table, hp, { classes: 3 });
  const b = await fitHead(table, hp, { classes: 3 });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaks');
  assert.deepEqual(a.best.weights, b.best.weights, 'seeded: the same run twice');
  assert.ok(
    'units' in a.best.weights &&
      a.best.weights.units === 3 &&
      a.best.weights.bias.length === 3 &&
      a.best.weights.kernel.length === dim * 3,
  );
  assert.ok(a.best.val_accuracy >= 0.9, `val accuracy ${a.best.val_accuracy}`);
  // val_loss is the categorical cross-entropy of the head's softmax, recomputed here from its weights.
  const valRows = rows.flatMap((r, i) => (r.split === 'val' ? [i] : []));
  const probs = headProbabilities(
    Float32Array.from(valRows.flatMap((r) => values.slice(r * dim, (r + 1) * dim))),
    dim,
    a.best.weights,
  );
  const loss =
    valRows.reduce((s, r, i) => s - Math.log(Math.max(1e-7, probs[i * 3 + rows[r].label])), 0) / valRows.length;
  assert.ok(Math.abs(loss - a.best.val_loss) < 1e-4, `${loss} vs ${a.best.val_loss}`);
  // Labels outside the classes are refused, not trained as something else.
  await assert.rejects(fitHead(table, hp), /has label 2, not a class index 0–1/);
});
