/**
 * train: fit the Dropout → Dense(1, sigmoid) head on the cached pooled features
 * (GAP is linear, so this is the same as training GAP → Dropout → Dense on the
 * maps), keep the epoch with the best val_loss, then put those weights into
 * build-model's untrained full model and save it.
 *
 * deps: features/, build-model's model/ (untrained full model).
 * outs[0]: model/ (base + trained head, tf.loadLayersModel-able), head.json,
 *          history.csv, metrics.json, curves.png.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { defineStage, type StageContext } from '../src/contract.ts';
import { setupBackend } from './lib/backend.ts';
import { writeCsv } from './lib/csv.ts';
import { FEATURES_META, gatherRows, readFeatures } from './lib/feature-store.ts';
import { round } from './lib/format.ts';
import {
  dropoutMask,
  featureClassifier,
  HEAD_DENSE,
  makeOptimizer,
  readHeadWeights,
  writeHeadWeights,
  type HeadWeights,
  type OptimizerName,
} from './lib/head.ts';
import { accuracy, logLoss } from './lib/metrics.ts';
import { loadModel, saveModel } from './lib/model-io.ts';
import { readParams } from './lib/params.ts';
import rules from './train.params.ts';
import { writeLinePlots } from './lib/picture.ts';
import { createRng, shuffle } from './lib/random.ts';
import { depFolderWith, outFolders } from './lib/stage-files.ts';
import { formatSeconds } from './lib/throughput.ts';

export const HEAD_FILE = 'head.json';

/** Keras clips binary cross-entropy at 1e-7; val_loss uses the same so figures compare with the notebook. */
const KERAS_EPSILON = 1e-7;

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
  seconds: number;
}

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/train']);
    const started = Date.now();
    const backend = await setupBackend(ctx.params, ctx.log, ctx.warn);
    const hp = readHyperparameters(ctx);
    const featuresDir = await depFolderWith(ctx.deps, FEATURES_META, 'features');
    const modelDir = await depFolderWith(ctx.deps, 'model.json', 'build-model');

    const table = await readFeatures(featuresDir);
    const trainRows = table.rows.flatMap((r, i) => (r.split === 'train' ? [i] : []));
    const valRows = table.rows.flatMap((r, i) => (r.split === 'val' ? [i] : []));
    if (trainRows.length === 0 || valRows.length === 0) {
      throw new Error(`features hold ${trainRows.length} train and ${valRows.length} val rows; both must be non-empty`);
    }
    const valLabels = valRows.map((r) => table.rows[r]!.label);
    ctx.log(
      `training the head on ${trainRows.length} feature rows (dim ${table.dim}), validating on ${valRows.length}; ` +
        `${hp.optimizer} lr=${hp.lr}, batch ${hp.batchSize}, dropout ${hp.dropout}, ≤${hp.epochs} epochs, patience ${hp.patience || 'off'}`,
    );

    const head = featureClassifier(table.dim, hp.seed);
    const optimizer = makeOptimizer(hp.optimizer, hp.lr);
    head.compile({ optimizer, loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const xTrain = tf.tensor2d(gatherRows(table, trainRows), [trainRows.length, table.dim]);
    const yTrain = tf.tensor2d(trainRows.map((r) => table.rows[r]!.label), [trainRows.length, 1]);
    const xVal = tf.tensor2d(gatherRows(table, valRows), [valRows.length, table.dim]);
    table.values = new Float32Array(0); // the tensors hold the data now

    const rng = createRng(hp.seed);
    const order = Array.from({ length: trainRows.length }, (_, i) => i);
    const history: EpochRecord[] = [];
    let best: { epoch: number; weights: HeadWeights; val_loss: number; val_accuracy: number } | undefined;
    try {
      for (let epoch = 1; epoch <= hp.epochs; epoch++) {
        const epochStart = Date.now();
        let lossSum = 0;
        let accSum = 0;
        const shuffled = shuffle(order, rng);
        for (let start = 0; start < shuffled.length; start += hp.batchSize) {
          const idx = shuffled.slice(start, start + hp.batchSize);
          const mask = hp.dropout > 0 ? dropoutMask(idx.length, table.dim, hp.dropout, rng) : undefined;
          const [loss, acc] = await trainBatch(head, xTrain, yTrain, idx, mask);
          lossSum += loss * idx.length;
          accSum += acc * idx.length;
        }
        const probs = tf.tidy(() => (head.predict(xVal) as tf.Tensor).dataSync() as Float32Array);
        const record: EpochRecord = {
          epoch,
          loss: lossSum / shuffled.length,
          accuracy: accSum / shuffled.length,
          val_loss: logLoss(valLabels, probs, KERAS_EPSILON),
          val_accuracy: accuracy(valLabels, probs),
          seconds: (Date.now() - epochStart) / 1000,
        };
        history.push(record);
        if (!best || record.val_loss < best.val_loss) {
          best = { epoch, weights: readHeadWeights(head as unknown as tf.LayersModel), val_loss: record.val_loss, val_accuracy: record.val_accuracy };
        }
        const perEpoch = (Date.now() - started) / 1000 / epoch;
        ctx.progress({
          done: epoch,
          total: hp.epochs,
          message: `epoch ${epoch}/${hp.epochs}, ETA ${formatSeconds(perEpoch * (hp.epochs - epoch))}`,
          metrics: { loss: round(record.loss), val_loss: round(record.val_loss), val_accuracy: round(record.val_accuracy) },
        });
        ctx.log(
          `epoch ${epoch}: loss ${record.loss.toFixed(4)} acc ${record.accuracy.toFixed(4)} ` +
            `val_loss ${record.val_loss.toFixed(4)} val_acc ${record.val_accuracy.toFixed(4)}${best.epoch === epoch ? ' (best)' : ''}`,
        );
        if (hp.patience > 0 && epoch - best.epoch >= hp.patience) {
          ctx.log(`early stopping: val_loss has not improved for ${hp.patience} epochs (best epoch ${best.epoch})`);
          break;
        }
      }
    } finally {
      tf.dispose([xTrain, yTrain, xVal]);
      head.dispose();
      optimizer.dispose(); // a passed-in optimizer is not the model's to dispose
    }
    if (!best) throw new Error('train.epochs must be at least 1');

    const full = await loadModel(modelDir);
    writeHeadWeights(full, best.weights);
    await saveModel(full, path.join(outDir, 'model'));
    full.dispose();
    await writeFile(path.join(outDir, HEAD_FILE), JSON.stringify({ layer: HEAD_DENSE, featureDim: table.dim, ...best.weights }) + '\n');
    await writeCsv(
      path.join(outDir, 'history.csv'),
      ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'seconds'],
      history.map((h) => [h.epoch, fix(h.loss), fix(h.accuracy), fix(h.val_loss), fix(h.val_accuracy), h.seconds.toFixed(3)]),
    );
    await writeLinePlots(
      [
        {
          series: [
            { name: 'loss', values: history.map((h) => h.loss) },
            { name: 'val_loss', values: history.map((h) => h.val_loss), dashed: true },
          ],
          labels: { title: `Loss (best epoch ${best.epoch})`, xLabel: 'epoch', yLabel: 'binary cross-entropy' },
        },
        {
          series: [
            { name: 'accuracy', values: history.map((h) => h.accuracy) },
            { name: 'val_accuracy', values: history.map((h) => h.val_accuracy), dashed: true },
          ],
          labels: { title: 'Accuracy', xLabel: 'epoch', yLabel: 'accuracy' },
        },
      ],
      path.join(outDir, 'curves.png'),
    );
    const metrics = {
      val_loss: round(best.val_loss, 6),
      val_accuracy: round(best.val_accuracy, 6),
      best_epoch: best.epoch,
      epochs_run: history.length,
      train_rows: trainRows.length,
      val_rows: valRows.length,
      optimizer: hp.optimizer,
      lr: hp.lr,
      batch_size: hp.batchSize,
      dropout: hp.dropout,
      backend,
      seconds: round((Date.now() - started) / 1000, 2),
    };
    await writeFile(path.join(outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    ctx.log(`best epoch ${best.epoch}: val_loss ${best.val_loss.toFixed(4)}, val_accuracy ${best.val_accuracy.toFixed(4)} (${metrics.seconds} s on ${backend})`);
  },
});

/** One optimizer step on rows `idx`; `mask` (rows × dim) is the batch's dropout, when there is dropout. */
async function trainBatch(head: tf.LayersModel, x: tf.Tensor2D, y: tf.Tensor2D, idx: number[], mask?: Float32Array): Promise<[number, number]> {
  const indices = tf.tensor1d(idx, 'int32');
  const xb = tf.tidy(() => {
    const rows = tf.gather(x, indices);
    return mask ? tf.mul(rows, tf.tensor2d(mask, rows.shape as [number, number])) : rows;
  });
  const yb = tf.gather(y, indices);
  try {
    const out = (await head.trainOnBatch(xb, yb)) as number[];
    return [out[0]!, out[1]!];
  } finally {
    tf.dispose([indices, xb, yb]);
  }
}

export interface Hyperparameters {
  optimizer: OptimizerName;
  lr: number;
  epochs: number;
  batchSize: number;
  dropout: number;
  patience: number;
  seed: number;
}

/** The train.* params and model.dropout, checked; the defaults apply to values left empty in pipeline.yaml. */
export function readHyperparameters(ctx: Pick<StageContext, 'params' | 'root' | 'stage'>): Hyperparameters {
  const p = readParams(ctx, rules);
  return {
    optimizer: p.oneOf<OptimizerName>('train.optimizer'),
    lr: p.number('train.lr'),
    epochs: p.integer('train.epochs'),
    batchSize: p.integer('train.batch_size'),
    dropout: p.number('model.dropout'),
    patience: p.integer('train.patience'),
    seed: p.integer('train.seed'),
  };
}

function fix(x: number): string {
  return x.toFixed(6);
}
