/**
 * The trainable head: GlobalAveragePooling → Dropout → Dense(1, sigmoid) for
 * two classes (P(second class), as Keras' class_mode='binary'), or
 * Dense(N, softmax) for N > 2 classes (class_mode='categorical').
 *
 * GAP is linear, so training the Dropout → Dense part on cached pooled features
 * is exactly training the head on the backbone's maps; the base runs once per
 * image, never per epoch. Keeping GAP → Dense (no hidden layer) is what makes
 * class activation maps apply (cam.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { checkParam } from 'pipeline-ml-engine';
import { KerasAdadelta } from './adadelta.ts';
import { OPTIMIZERS, sharedParams } from '../stage/shared-params.ts';
import { readFile } from 'node:fs/promises';
import { checkClassList, headUnits } from '../data/class-list.ts';

export const HEAD_GAP = 'head_gap';
export const HEAD_DROPOUT = 'head_dropout';
export const HEAD_DENSE = 'head_dense';

export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Two classes, the trained Dense(1): P(second class) = sigmoid(kernel · pooled + bias). */
export interface SigmoidWeights {
  kernel: number[];
  bias: number;
}

/** N > 2 classes, the trained Dense(N): softmax(pooled · kernel + bias); kernel is [featureDim × units], row-major. */
export interface SoftmaxWeights {
  units: number;
  kernel: number[];
  bias: number[];
}

export type HeadWeights = SigmoidWeights | SoftmaxWeights;

/** Outputs per image: 1 for a sigmoid head (P(second class)), N for a softmax head. */
export function unitsOf(w: HeadWeights): number {
  return 'units' in w ? w.units : 1;
}

/** train's head.json: the trained weights and the classes the head's outputs stand for. */
export interface TrainedHead {
  classes: string[];
  weights: HeadWeights;
}

export async function readTrainedHead(file: string): Promise<TrainedHead> {
  const {
    classes,
    layer: _layer,
    featureDim: _dim,
    ...weights
  } = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const list = checkClassList(classes, `${file}: classes`);
  const w = weights as unknown as HeadWeights;
  if (unitsOf(w) !== headUnits(list))
    throw new Error(`${file}: a head of ${unitsOf(w)} output(s) cannot stand for ${list.length} classes`);
  return { classes: list, weights: w };
}

function denseLayer(units: number, seed: number, inputShape?: number[]) {
  return tf.layers.dense({
    ...(inputShape ? { inputShape } : {}),
    units,
    activation: units === 1 ? 'sigmoid' : 'softmax',
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
    biasInitializer: 'zeros',
    name: HEAD_DENSE,
  });
}

/**
 * The Dense layer on pooled features of width `featureDim`: what `train` fits.
 * Dropout is applied to each batch by the caller with `dropoutMask`, from the
 * run's seeded generator: a TF.js Dropout layer is either unseeded (runs differ)
 * or reseeded per call (one mask for every batch).
 */
export function featureClassifier(featureDim: number, seed: number, units = 1): tf.Sequential {
  const model = tf.sequential({ name: 'head_on_features' });
  model.add(denseLayer(units, seed, [featureDim]));
  return model;
}

/**
 * An inverted-dropout mask for `rows × dim` inputs, as Keras' Dropout applies in
 * training: each value kept with probability 1 − rate and scaled by 1 / (1 − rate).
 */
export function dropoutMask(rows: number, dim: number, rate: number, rng: () => number): Float32Array {
  checkDropout(rate);
  const mask = new Float32Array(rows * dim);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < mask.length; i++) mask[i] = rng() < rate ? 0 : keep;
  return mask;
}

/**
 * The full model: frozen base → GAP → Dropout → Dense(1, sigmoid), or Dense(units, softmax)
 * for units > 1 (see headUnits). Marks every base layer untrainable.
 */
export function attachHead(backbone: tf.LayersModel, dropout: number, seed = 0, units = 1): tf.LayersModel {
  checkDropout(dropout);
  for (const layer of backbone.layers) layer.trainable = false;
  const maps = backbone.outputs[0];
  const pooled = tf.layers.globalAveragePooling2d({ name: HEAD_GAP }).apply(maps) as tf.SymbolicTensor;
  const dropped = tf.layers.dropout({ rate: dropout, name: HEAD_DROPOUT }).apply(pooled) as tf.SymbolicTensor;
  const prob = denseLayer(units, seed).apply(dropped) as tf.SymbolicTensor;
  return tf.model({ inputs: backbone.inputs, outputs: prob, name: `${backbone.name}_dogs_vs_cats` });
}

export function readHeadWeights(model: tf.LayersModel): HeadWeights {
  const [kernel, bias] = model.getLayer(HEAD_DENSE).getWeights();
  const units = kernel.shape[1]!;
  if (units === 1) return { kernel: Array.from(kernel.dataSync()), bias: bias.dataSync()[0] };
  return { units, kernel: Array.from(kernel.dataSync()), bias: Array.from(bias.dataSync()) };
}

export function writeHeadWeights(model: tf.LayersModel, w: HeadWeights): void {
  const dense = model.getLayer(HEAD_DENSE);
  const [k] = dense.getWeights();
  const units = unitsOf(w);
  const inputs = w.kernel.length / units;
  if (k.shape[0] !== inputs || k.shape[1] !== units) {
    throw new Error(
      `head weights are ${inputs} inputs × ${units} outputs but the model's ${HEAD_DENSE} is ${k.shape[0]} × ${k.shape[1]}`,
    );
  }
  const kernel = tf.tensor2d(w.kernel, [inputs, units]);
  const bias = tf.tensor1d(typeof w.bias === 'number' ? [w.bias] : w.bias);
  dense.setWeights([kernel, bias]);
  kernel.dispose();
  bias.dispose();
}

/**
 * The head's outputs for each row of pooled features [n, channels], in plain JS:
 * [n] P(second class) for a sigmoid head, [n × units] class probabilities for a softmax head.
 */
export function headProbabilities(pooled: Float32Array, channels: number, w: HeadWeights): Float32Array {
  const units = unitsOf(w);
  if (channels * units !== w.kernel.length)
    throw new Error(`features have ${channels} channels, head expects ${w.kernel.length / units}`);
  const n = pooled.length / channels;
  const out = new Float32Array(n * units);
  if (!('units' in w)) {
    for (let i = 0; i < n; i++) {
      let z = w.bias;
      for (let k = 0; k < channels; k++) z += w.kernel[k] * pooled[i * channels + k];
      out[i] = 1 / (1 + Math.exp(-z));
    }
    return out;
  }
  const z = new Float64Array(units);
  for (let i = 0; i < n; i++) {
    z.set(w.bias);
    for (let k = 0; k < channels; k++) {
      const x = pooled[i * channels + k];
      for (let j = 0; j < units; j++) z[j] += x * w.kernel[k * units + j];
    }
    // Softmax less the largest logit: the same probabilities, no overflow.
    const top = Math.max(...z);
    let sum = 0;
    for (let j = 0; j < units; j++) sum += z[j] = Math.exp(z[j] - top);
    for (let j = 0; j < units; j++) out[i * units + j] = z[j] / sum;
  }
  return out;
}

/** Keras 2.0's default learning rate of each optimizer (keras/optimizers.py). */
export const KERAS_DEFAULT_LR: Readonly<Record<OptimizerName, number>> = Object.freeze({
  adam: 0.001,
  adadelta: 1.0,
  sgd: 0.01,
  rmsprop: 0.001,
});

export interface LearningRate {
  lr: number;
  /** Where it came from: `train.lr`, `train.lr.<optimizer>`, or Keras' default. */
  source: string;
}

/**
 * `train.lr` for `optimizer`. The value may be
 * - a number: that rate, whatever the optimizer;
 * - a mapping optimizer → number (`{ adam: 0.003 }`): the optimizer's entry, else Keras' default;
 * - unset or `auto`: Keras' default for the optimizer (adam 0.001, adadelta 1.0, sgd 0.01, rmsprop 0.001).
 */
export function resolveLearningRate(raw: unknown, optimizer: OptimizerName, key = 'train.lr'): LearningRate {
  const keras = { lr: KERAS_DEFAULT_LR[optimizer], source: `Keras' default for ${optimizer}` };
  const rule = `a number > 0, auto, or a mapping of optimizer (${OPTIMIZERS.join(', ')}) → number > 0`;
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (raw === undefined || raw === null || raw === '' || raw === 'auto') return keras;
  if (positive(raw)) return { lr: raw as number, source: key };
  if (typeof raw === 'object' && !Array.isArray(raw)) {
    const entries = Object.entries(raw as Record<string, unknown>);
    for (const [name, v] of entries) {
      if (!(OPTIMIZERS as readonly string[]).includes(name))
        throw new Error(`${key}.${name}: unknown optimizer; ${key} must be ${rule}`);
      if (!positive(v)) throw new Error(`${key}.${name} must be a number > 0, got ${JSON.stringify(v)}`);
    }
    const own = (raw as Record<string, unknown>)[optimizer];
    return own === undefined ? keras : { lr: own as number, source: `${key}.${optimizer}` };
  }
  throw new Error(`${key} must be ${rule}, got ${JSON.stringify(raw)}`);
}

export function makeOptimizer(name: OptimizerName, lr: number): tf.Optimizer {
  if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`train.lr must be a positive number; got ${lr}`);
  switch (name) {
    case 'adam':
      return tf.train.adam(lr);
    case 'adadelta':
      // Not tf.train.adadelta: its first step is the raw gradient × lr (see adadelta.ts).
      return new KerasAdadelta(lr, 0.95, 1e-7);
    case 'sgd':
      return tf.train.momentum(lr, 0.9);
    case 'rmsprop':
      return tf.train.rmsprop(lr);
    default:
      throw new Error(`train.optimizer must be one of ${OPTIMIZERS.join(', ')}; got '${String(name)}'`);
  }
}

function checkDropout(rate: number): void {
  const checked = checkParam('model.dropout', sharedParams['model.dropout'], rate);
  if (!checked.ok) throw new Error(checked.message);
}
