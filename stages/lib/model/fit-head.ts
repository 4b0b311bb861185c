/**
 * Fitting the Dropout → Dense head on cached pooled features (Dense(1, sigmoid)
 * and binary cross-entropy for two classes, Dense(N, softmax) and categorical
 * cross-entropy for more): the
 * loop `train` runs, and that `bench/quality.ts` reruns for every figure of
 * docs/dogs-vs-cats.md, so both train exactly the same way.
 *
 * Fresh draws per epoch: with `augment.copies: K` the features hold K + 1
 * versions of every training image (the original and K augmented copies, each
 * through the backbone once). Each epoch trains on ONE version of each image,
 * picked with the seeded generator, so an epoch is one pass over the images
 * (as with Keras' ImageDataGenerator, which draws a fresh transform per image
 * per epoch) and over the epochs the model sees every version, not the same
 * fixed copy again and again.
 */
import * as tf from '@tensorflow/tfjs';
import { gatherRows, type FeatureTable } from '../inference/feature-store.ts';
import {
  dropoutMask,
  featureClassifier,
  makeOptimizer,
  readHeadWeights,
  type HeadWeights,
  type OptimizerName,
} from './head.ts';
import { accuracy, categoricalAccuracy, categoricalLogLoss, logLoss } from './metrics.ts';
import { createRng, shuffle, type Rng } from '../data/random.ts';

/** Keras clips cross-entropy at 1e-7; val_loss uses the same so figures compare with the notebook. */
export const KERAS_EPSILON = 1e-7;

export interface HeadHyperparameters {
  optimizer: OptimizerName;
  lr: number;
  epochs: number;
  batchSize: number;
  dropout: number;
  /** Early stopping after this many epochs without a better val_loss; 0 = off. */
  patience: number;
  seed: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
  seconds: number;
}

export interface FittedHead {
  /** The epoch with the lowest val_loss, and its weights. */
  best: { epoch: number; weights: HeadWeights; val_loss: number; val_accuracy: number };
  history: EpochRecord[];
  /** Training images (one row of each per epoch) and the feature rows they have. */
  trainImages: number;
  trainRows: number;
  valRows: number;
}

/**
 * The training rows grouped by image: `versions[i]` lists the feature rows of
 * image i (its original and its augmented copies), in file order.
 */
export function versionsByImage(table: Pick<FeatureTable, 'rows'>): number[][] {
  const byPath = new Map<string, number[]>();
  table.rows.forEach((r, i) => {
    if (r.split !== 'train') return;
    const list = byPath.get(r.path);
    if (list) list.push(i);
    else byPath.set(r.path, [i]);
  });
  return [...byPath.values()];
}

/** One epoch's rows: one version of every image, drawn uniformly with `rng`. */
export function drawEpochRows(versions: readonly (readonly number[])[], rng: Rng): number[] {
  return versions.map((v) => (v.length === 1 ? v[0] : v[Math.floor(rng() * v.length)]));
}

export interface FitOptions {
  /** How many classes the labels index (2 = a sigmoid head; the Kaggle job's). Labels outside 0…classes−1 are an error. */
  classes?: number;
  /** Empty `table.values` once the tensors hold the data (halves peak memory; the table is unusable after). */
  releaseTable?: boolean;
  /** After every epoch, with whether it is the best so far. */
  onEpoch?: (record: EpochRecord, isBest: boolean) => void;
  /** When early stopping ends the run. */
  onStop?: (bestEpoch: number) => void;
}

/** Fits a fresh head on the train rows of `table`, scoring every epoch on its (unaugmented) val rows. */
export async function fitHead(
  table: FeatureTable,
  hp: HeadHyperparameters,
  options: FitOptions = {},
): Promise<FittedHead> {
  const versions = versionsByImage(table);
  const allTrainRows = versions.flat();
  const valRows = table.rows.flatMap((r, i) => (r.split === 'val' && r.copy === 0 ? [i] : []));
  if (allTrainRows.length === 0 || valRows.length === 0) {
    throw new Error(
      `features hold ${allTrainRows.length} train and ${valRows.length} val rows; both must be non-empty`,
    );
  }
  const classes = options.classes ?? 2;
  const units = classes === 2 ? 1 : classes;
  const bad = table.rows.find(
    (r) => r.split !== 'test' && !(Number.isInteger(r.label) && r.label >= 0 && r.label < classes),
  );
  if (bad) throw new Error(`feature row of ${bad.path} has label ${bad.label}, not a class index 0–${classes - 1}`);
  const valLabels = valRows.map((r) => table.rows[r].label);
  // Tensor row k holds feature row allTrainRows[k]; the versions are re-indexed to tensor rows.
  const tensorRowOf = new Map(allTrainRows.map((r, k) => [r, k]));
  const tensorVersions = versions.map((v) => v.map((r) => tensorRowOf.get(r)!));

  const head = featureClassifier(table.dim, hp.seed, units);
  const optimizer = makeOptimizer(hp.optimizer, hp.lr);
  head.compile({
    optimizer,
    loss: units === 1 ? 'binaryCrossentropy' : 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const xTrain = tf.tensor2d(gatherRows(table, allTrainRows), [allTrainRows.length, table.dim]);
  const trainLabels = allTrainRows.map((r) => table.rows[r].label);
  const yTrain =
    units === 1
      ? tf.tensor2d(trainLabels, [allTrainRows.length, 1])
      : tf.tidy(() => tf.oneHot(tf.tensor1d(trainLabels, 'int32'), classes).toFloat() as tf.Tensor2D);
  const xVal = tf.tensor2d(gatherRows(table, valRows), [valRows.length, table.dim]);
  if (options.releaseTable) table.values = new Float32Array(0);

  const rng = createRng(hp.seed);
  const history: EpochRecord[] = [];
  let best: FittedHead['best'] | undefined;
  try {
    for (let epoch = 1; epoch <= hp.epochs; epoch++) {
      const epochStart = Date.now();
      let lossSum = 0;
      let accSum = 0;
      const rows = shuffle(drawEpochRows(tensorVersions, rng), rng);
      for (let start = 0; start < rows.length; start += hp.batchSize) {
        const idx = rows.slice(start, start + hp.batchSize);
        const mask = hp.dropout > 0 ? dropoutMask(idx.length, table.dim, hp.dropout, rng) : undefined;
        const [loss, acc] = await trainBatch(head, xTrain, yTrain, idx, mask);
        lossSum += loss * idx.length;
        accSum += acc * idx.length;
      }
      const probs = tf.tidy(() => (head.predict(xVal) as tf.Tensor).dataSync() as Float32Array);
      const record: EpochRecord = {
        epoch,
        loss: lossSum / rows.length,
        accuracy: accSum / rows.length,
        val_loss:
          units === 1
            ? logLoss(valLabels, probs, KERAS_EPSILON)
            : categoricalLogLoss(valLabels, probs, classes, KERAS_EPSILON),
        val_accuracy: units === 1 ? accuracy(valLabels, probs) : categoricalAccuracy(valLabels, probs, classes),
        seconds: (Date.now() - epochStart) / 1000,
      };
      history.push(record);
      const isBest = !best || record.val_loss < best.val_loss;
      if (isBest) {
        best = { epoch, weights: readHeadWeights(head), val_loss: record.val_loss, val_accuracy: record.val_accuracy };
      }
      options.onEpoch?.(record, isBest);
      if (hp.patience > 0 && epoch - best!.epoch >= hp.patience) {
        options.onStop?.(best!.epoch);
        break;
      }
    }
  } finally {
    tf.dispose([xTrain, yTrain, xVal]);
    head.dispose();
    optimizer.dispose(); // a passed-in optimizer is not the model's to dispose
  }
  if (!best) throw new Error('train.epochs must be at least 1');
  return { best, history, trainImages: versions.length, trainRows: allTrainRows.length, valRows: valRows.length };
}

/** One optimizer step on rows `idx`; `mask` (rows × dim) is the batch's dropout, when there is dropout. */
async function trainBatch(
  head: tf.LayersModel,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  idx: number[],
  mask?: Float32Array,
): Promise<[number, number]> {
  const indices = tf.tensor1d(idx, 'int32');
  const xb = tf.tidy(() => {
    const rows = tf.gather(x, indices);
    return mask ? tf.mul(rows, tf.tensor2d(mask, rows.shape)) : rows;
  });
  const yb = tf.gather(y, indices);
  try {
    const out = (await head.trainOnBatch(xb, yb)) as number[];
    return [out[0], out[1]];
  } finally {
    tf.dispose([indices, xb, yb]);
  }
}
