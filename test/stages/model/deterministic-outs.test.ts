/**
 * Outs are a function of the inputs: the real features and train stages, run twice on the same inputs (real photos,
 * the smallest backbone), write the same bytes; what changes between the runs (seconds, rates, what the feature store
 * already held) goes to ctx.report only.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import augmentConfigStage from '../../../stages/augment-config.ts';
import featuresStage from '../../../stages/features.ts';
import splitStage from '../../../stages/split.ts';
import trainStage from '../../../stages/train.ts';
import { linkSubset, tempDir, TRAIN_DIR } from '../data/helpers.ts';
import { buildBackbone, SHARED } from './backbone-fixture.ts';
import { makeContext } from './context.ts';

const BACKBONE = 'mobilenet_v1_0.25_224';
const available = existsSync(TRAIN_DIR) && existsSync(path.join(SHARED, 'models', BACKBONE));

/** Every file under `dir`, relative path → bytes. */
function tree(dir: string): Map<string, Buffer> {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(path.join(dir, f)).isFile())
    .sort();
  return new Map(files.map((f) => [f, readFileSync(path.join(dir, f))]));
}

function assertSameTree(a: string, b: string): void {
  const [left, right] = [tree(a), tree(b)];
  assert.deepEqual([...right.keys()], [...left.keys()]);
  for (const [file, bytes] of left)
    assert.ok(right.get(file)!.equals(bytes), `${file} differs between two runs on the same inputs`);
}

test(
  'features and train: two runs on the same inputs write the same bytes; timings and store counts only reach ctx.report',
  { skip: !available && 'shared photos or backbone not present' },
  async () => {
    const { dir: root, cleanup } = await tempDir('pipeline-deterministic-');
    try {
      await linkSubset(path.join(root, 'data/train'), 6, 6);
      const run = async (
        stage: typeof splitStage,
        name: string,
        params: Record<string, unknown>,
        deps: string[],
        outs: string[],
      ) => {
        for (const out of outs) await mkdir(path.resolve(root, out), { recursive: true });
        const ctx = makeContext({ stage: name, root, params, deps, outs });
        await stage.run(ctx);
        return ctx;
      };
      await run(
        splitStage,
        'split',
        {
          'data.train_dir': 'data/train',
          'data.classes': null,
          'data.val_fraction': 0.25,
          'data.seed': 1,
          'data.test_labels': null,
        },
        ['data/train'],
        ['split', 'classes'],
      );
      await run(
        augmentConfigStage,
        'augment-config',
        { augment: { shear_range: 0.2, zoom_range: 0.2, horizontal_flip: true, copies: 1, seed: 1 } },
        ['split', 'classes'],
        ['augment-config'],
      );
      const backbone = await buildBackbone(root, BACKBONE, 'conv_pw_13_relu', undefined, path.join(root, 'classes'));

      const runtime = {
        'runtime.backend': 'cpu',
        'runtime.inference': 'onnx',
        'runtime.device': 'cpu',
        'runtime.threads': 0,
        'runtime.batch_size': 4,
        'runtime.feature_store': '',
        'runtime.precision': 'fp32',
      };
      const features = (out: string) =>
        run(featuresStage, 'features', runtime, ['split', 'classes', 'augment-config', backbone], [out]);
      const first = await features('features-a');
      const second = await features('features-b'); // every pass now comes from the stage's feature store
      assertSameTree(path.join(root, 'features-a'), path.join(root, 'features-b'));
      const report = JSON.parse(readFileSync(path.join(root, 'features-a/report.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      for (const key of ['seconds', 'imagesPerSecond', 'figures'])
        assert.ok(!(key in report), `report.json holds ${key}`);
      assert.deepEqual(Object.keys(first.figures).sort(), ['computed', 'fromStore', 'imagesPerSecond', 'seconds']);
      assert.ok(first.figures.computed > 0 && first.figures.imagesPerSecond > 0, JSON.stringify(first.figures));
      assert.deepEqual(
        [second.figures.computed, second.figures.fromStore],
        [0, first.figures.computed + first.figures.fromStore],
      );

      const trainParams = {
        'train.optimizer': 'adam',
        'train.lr': 0.001,
        'train.epochs': 3,
        'train.batch_size': 4,
        'train.patience': 0,
        'train.seed': 1,
        'model.dropout': 0.5,
        'runtime.backend': 'cpu',
        'runtime.threads': 0,
      };
      const train = (out: string) =>
        run(trainStage, 'train', trainParams, ['features-a', 'classes', path.join(root, 'out/model')], [out]);
      const trainedA = await train('train-a');
      await train('train-b');
      assertSameTree(path.join(root, 'train-a'), path.join(root, 'train-b'));
      assert.ok(tree(path.join(root, 'train-a')).has('model/weights.bin'));
      const metrics = JSON.parse(readFileSync(path.join(root, 'train-a/metrics.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.ok(!('seconds' in metrics), 'a wall-clock time in metrics.json');
      assert.equal(
        readFileSync(path.join(root, 'train-a/history.csv'), 'utf8').split('\n')[0],
        'epoch,loss,accuracy,val_loss,val_accuracy',
      );
      assert.deepEqual(Object.keys(trainedA.figures).sort(), ['seconds', 'secondsPerEpoch']);
    } finally {
      await cleanup();
    }
  },
);
