/**
 * train: fit the Dropout → Dense head (Dense(1, sigmoid) for two classes,
 * Dense(N, softmax) for more) on the cached pooled features
 * (GAP is linear, so this is the same as training GAP → Dropout → Dense on the
 * maps), keep the epoch with the best val_loss, then put those weights into
 * build-model's untrained full model and save it. With augmented copies,
 * each epoch trains on one version of every image (lib/model/fit-head.ts).
 *
 * deps: features/, build-model's model/ (untrained full model), split's classes.json.
 * outs[0]: model/ (base + trained head, tf.loadLayersModel-able), head.json
 *          (the head's weights and the classes its outputs stand for),
 *          history.csv, metrics.json, curves.png: the same bytes for the same inputs.
 * ctx.report: seconds, secondsPerEpoch (never in the outs).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, type StageContext } from 'pipeline-ml-engine';
import { setupBackend } from './lib/inference/backend.ts';
import { writeCsv } from './lib/data/csv.ts';
import { FEATURES_META, readFeatures } from './lib/inference/feature-store.ts';
import { fitHead, type HeadHyperparameters } from './lib/model/fit-head.ts';
import { round } from './lib/stage/format.ts';
import {
  HEAD_DENSE,
  KERAS_DEFAULT_LR,
  resolveLearningRate,
  writeHeadWeights,
  type OptimizerName,
} from './lib/model/head.ts';
import { loadModel, saveModel } from './lib/model/model-io.ts';
import { readParams } from './lib/stage/params.ts';
import rules from './train.params.ts';
import { writeLinePlots } from './lib/data/picture.ts';
import { depFolderWith, outFolders } from './lib/stage/stage-files.ts';
import { formatSeconds } from './lib/stage/throughput.ts';
import { CLASSES_FILE, headUnits, readClassList } from './lib/data/class-list.ts';
import { findInDeps } from './lib/stage/stage-files.ts';

export const HEAD_FILE = 'head.json';

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/train']);
    const started = Date.now();
    const backend = await setupBackend(readParams(ctx, rules), ctx.log, ctx.warn);
    const hp = readHyperparameters(ctx);
    const featuresDir = await depFolderWith(ctx.deps, FEATURES_META, 'features');
    const modelDir = await depFolderWith(ctx.deps, 'model.json', 'build-model');
    const classes = await readClassList(await findInDeps(ctx.deps, CLASSES_FILE, 'split'));

    const table = await readFeatures(featuresDir);
    const keras = KERAS_DEFAULT_LR[hp.optimizer];
    if (hp.lrSource === 'train.lr' && (hp.lr > keras * 100 || hp.lr < keras / 100)) {
      ctx.warn(
        `train.lr ${hp.lr} is over 100× off Keras' default for ${hp.optimizer} (${keras}); leave train.lr unset (or auto) for the default, or give one per optimizer: lr: { ${hp.optimizer}: … }`,
      );
    }
    ctx.log(
      `training the head on cached features (dim ${table.dim}); ${hp.optimizer} lr=${hp.lr} (${hp.lrSource}), batch ${hp.batchSize}, ` +
        `dropout ${hp.dropout}, ≤${hp.epochs} epochs, patience ${hp.patience || 'off'}; each epoch one version of every training image`,
    );
    const fitted = await fitHead(table, hp, {
      classes: classes.length,
      releaseTable: true,
      onEpoch(record, isBest) {
        const perEpoch = (Date.now() - started) / 1000 / record.epoch;
        ctx.progress({
          done: record.epoch,
          total: hp.epochs,
          message: `epoch ${record.epoch}/${hp.epochs}, ETA ${formatSeconds(perEpoch * (hp.epochs - record.epoch))}`,
          metrics: {
            loss: round(record.loss),
            val_loss: round(record.val_loss),
            val_accuracy: round(record.val_accuracy),
          },
        });
        ctx.log(
          `epoch ${record.epoch}: loss ${record.loss.toFixed(4)} acc ${record.accuracy.toFixed(4)} ` +
            `val_loss ${record.val_loss.toFixed(4)} val_acc ${record.val_accuracy.toFixed(4)}${isBest ? ' (best)' : ''}`,
        );
      },
      onStop: (bestEpoch) =>
        ctx.log(`early stopping: val_loss has not improved for ${hp.patience} epochs (best epoch ${bestEpoch})`),
    });
    const { best, history } = fitted;
    ctx.log(
      `${fitted.trainImages} training images (${fitted.trainRows} feature rows: ${(fitted.trainRows / fitted.trainImages).toFixed(2)} versions each), ${fitted.valRows} val rows`,
    );

    const full = await loadModel(modelDir);
    writeHeadWeights(full, best.weights);
    await saveModel(full, path.join(outDir, 'model'));
    full.dispose();
    await writeFile(
      path.join(outDir, HEAD_FILE),
      JSON.stringify({ layer: HEAD_DENSE, featureDim: table.dim, classes, ...best.weights }) + '\n',
    );
    await writeCsv(
      path.join(outDir, 'history.csv'),
      ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy'],
      history.map((h) => [h.epoch, fix(h.loss), fix(h.accuracy), fix(h.val_loss), fix(h.val_accuracy)]),
    );
    await writeLinePlots(
      [
        {
          series: [
            { name: 'loss', values: history.map((h) => h.loss) },
            { name: 'val_loss', values: history.map((h) => h.val_loss), dashed: true },
          ],
          labels: {
            title: `Loss (best epoch ${best.epoch})`,
            xLabel: 'epoch',
            yLabel: headUnits(classes) === 1 ? 'binary cross-entropy' : 'categorical cross-entropy',
          },
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
      train_images: fitted.trainImages,
      train_rows: fitted.trainRows,
      val_rows: fitted.valRows,
      optimizer: hp.optimizer,
      lr: hp.lr,
      lr_source: hp.lrSource,
      batch_size: hp.batchSize,
      dropout: hp.dropout,
      backend,
    };
    await writeFile(path.join(outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    const seconds = round((Date.now() - started) / 1000, 2);
    ctx.report({
      seconds,
      secondsPerEpoch: round(history.reduce((total, h) => total + h.seconds, 0) / Math.max(1, history.length), 3),
    });
    ctx.log(
      `best epoch ${best.epoch}: val_loss ${best.val_loss.toFixed(4)}, val_accuracy ${best.val_accuracy.toFixed(4)} (${seconds} s on ${backend})`,
    );
  },
});

export interface Hyperparameters extends HeadHyperparameters {
  /** Where lr came from (see resolveLearningRate). */
  lrSource: string;
}

/** The train.* params and model.dropout, checked; the defaults apply to values left empty in pipeline.yaml. */
export function readHyperparameters(ctx: Pick<StageContext, 'params' | 'root' | 'stage'>): Hyperparameters {
  const p = readParams(ctx, rules);
  const optimizer = p.oneOf<OptimizerName>('train.optimizer');
  // The declared rule checked the shape (number, auto or per-optimizer mapping); this picks the value.
  const { lr, source } = p.parse('train.lr', (value) => resolveLearningRate(value, optimizer));
  return {
    optimizer,
    lr,
    lrSource: source,
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
