/**
 * The whole Dogs-vs-Cats job through the real CLI on a tiny subset: 24 train
 * photos (plus one truncated JPEG that must be skipped and counted), 8 test
 * photos, the smallest backbone, 2 epochs. Asserts every artifact is there and
 * well-formed, that the saved TF.js model agrees with the ONNX base + head
 * predictions, and that a second run skips every stage.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { fileHandler } from '../../stages/lib/inference/backbone.ts';
import { decodeImage, toTensorInput } from '../../stages/lib/data/images.ts';
import {
  BACKBONE,
  cli,
  copyInto,
  jobProject,
  lastRunFigures,
  photos,
  SHARED,
  TEST_SRC,
  TRAIN_SRC,
} from './job-fixture.ts';

const TEST_IDS = [3, 1, 10, 2, 100, 5, 11, 4]; // deliberately unsorted
const available = existsSync(TRAIN_SRC) && existsSync(TEST_SRC) && existsSync(BACKBONE);

let dir = '';
const art = (rel: string) => path.join(dir, 'artifacts', rel);
const readJson = (rel: string) => JSON.parse(readFileSync(art(rel), 'utf8')) as Record<string, any>;
const csvRows = (rel: string) =>
  readFileSync(art(rel), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(','));

before(() => {
  if (!available) return;
  // The repo's own stages (its stages/ is linked into the temp project); only these params change.
  dir = jobProject(mkdtempSync(path.join(tmpdir(), 'pipeline-e2e-')), {
    data: {
      train_dir: 'data/train',
      test_dir: 'data/test',
      test_labels: 'data/test_labels.csv',
      val_fraction: 0.25,
      seed: 1,
    },
    augment: { copies: 1, seed: 1 },
    model: { backbone: BACKBONE, cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
    runtime: { threads: 0, batch_size: 8 },
    train: { lr: 0.001, epochs: 2, batch_size: 16, patience: 0, seed: 1 },
    predict: { clip: 0.005 },
    visualize: { per_class: 2, cols: 4 },
  });
  copyInto([...photos('cat', 0, 12), ...photos('dog', 0, 12)], path.join(dir, 'data/train'));
  // A JPEG cut off after 600 bytes: must be skipped with a warning and counted, never crash the run.
  writeFileSync(path.join(dir, 'data/train/cat.999999.jpg'), readFileSync(photos('cat', 0, 1)[0]).subarray(0, 600));
  for (const id of TEST_IDS) copyFileSync(path.join(TEST_SRC, `${id}.jpg`), path.join(dir, 'data/test', `${id}.jpg`));
  const labels = readFileSync(path.join(SHARED, 'datasets/dogs-vs-cats/test_labels.csv'), 'utf8').trim().split('\n');
  writeFileSync(
    path.join(dir, 'data/test_labels.csv'),
    [labels[0], ...labels.slice(1).filter((l) => TEST_IDS.includes(Number(l.split(',')[0])))].join('\n') + '\n',
  );
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test(
  'the whole job runs on a tiny subset and writes well-formed artifacts',
  { skip: !available && 'shared data not present' },
  () => {
    const first = cli(dir, 'run');
    assert.equal(first.code, 0, `pipeline run failed:\n${first.stdout}\n${first.stderr}`);
    if (process.env.E2E_VERBOSE) console.log(first.stdout);

    // split + augment-config
    const train = csvRows('split/train.csv');
    const val = csvRows('split/val.csv');
    assert.deepEqual(train[0], ['path', 'label']);
    assert.equal(train.length - 1 + val.length - 1, 25);
    assert.ok(isPng(art('augment-config/preview.png')));

    // build-model
    const info = readJson('build-model/backbone/info.json');
    assert.equal(info.inputSize, 224);
    assert.equal(info.featureDim, 256);
    assert.equal(info.onnx.exported, true);
    for (const f of [
      'backbone/model.json',
      'backbone/weights.bin',
      'backbone/backbone.onnx',
      'model/model.json',
      'model/weights.bin',
    ]) {
      assert.ok(statSync(art(`build-model/${f}`)).size > 0, f);
    }

    // features: binary rows × dim, index rows, the truncated JPEG skipped and counted
    const meta = readJson('features/features.json');
    const report = readJson('features/report.json');
    assert.equal(statSync(art('features/features.f32')).size, meta.rows * meta.dim * 4);
    assert.equal(csvRows('features/index.csv').length - 1, meta.rows);
    assert.equal(report.skipped.count, 1);
    assert.match(report.skipped.files[0].path, /cat\.999999\.jpg$/);
    const trainImages = train.length - 1 - (report.skipped.files[0].split === 'train' ? 1 : 0);
    const valImages = val.length - 1 - (report.skipped.files[0].split === 'val' ? 1 : 0);
    assert.equal(meta.rows, trainImages * 2 + valImages, 'one augmented copy per train image, none for val');
    // How fast and how much came from the store: in the run record, not in the outs.
    for (const k of ['seconds', 'imagesPerSecond']) assert.ok(!(k in report), `features/report.json holds ${k}`);
    assert.equal(report.store.fromStore, undefined);
    const figures = lastRunFigures(dir);
    assert.equal(
      figures['features.computed'],
      meta.rows + valImages,
      'every row, plus the val copies kept in the store only',
    );
    assert.ok(figures['features.imagesPerSecond'] > 0, JSON.stringify(figures));
    assert.ok(figures['train.seconds'] > 0 && figures['test-features.imagesPerSecond'] > 0, JSON.stringify(figures));

    // train
    const metrics = readJson('train/metrics.json');
    for (const k of ['val_loss', 'val_accuracy', 'best_epoch', 'backend'])
      assert.ok(k in metrics, `train metrics lack ${k}`);
    assert.ok(!('seconds' in metrics), 'a wall-clock time in train/metrics.json');
    assert.ok(metrics.val_loss > 0 && Number.isFinite(metrics.val_loss));
    const history = csvRows('train/history.csv');
    assert.deepEqual(history[0], ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy']);
    assert.equal(history.length, 3);
    assert.ok(isPng(art('train/curves.png')));

    // test-features: every test image and its flip
    const testMeta = readJson('test-features/features.json');
    assert.equal(testMeta.rows, 16);
    assert.equal(statSync(art('test-features/features.f32')).size, 16 * testMeta.dim * 4);

    // predict: header, every id once, sorted numerically, clipped probabilities
    const submission = csvRows('predict/submission.csv');
    assert.deepEqual(submission[0], ['id', 'label']);
    assert.deepEqual(
      submission.slice(1).map((r) => Number(r[0])),
      [...TEST_IDS].sort((a, b) => a - b),
    );
    for (const [, p] of submission.slice(1)) assert.ok(Number(p) >= 0.005 && Number(p) <= 0.995, `unclipped ${p}`);
    const testMetrics = readJson('predict/metrics.json');
    assert.equal(testMetrics.counts.scored, 8);
    const cm = testMetrics.confusion.matrix as number[][];
    assert.equal(
      cm.flat().reduce((a, b) => a + b, 0),
      8,
    );
    assert.ok(testMetrics.log_loss > 0 && testMetrics.accuracy >= 0 && testMetrics.accuracy <= 1);

    // visualize: the mistakes first (val, then test), then the hardest correct ones
    const selection = csvRows('visualize/selection.csv');
    assert.deepEqual(selection[0], ['set', 'path', 'label', 'p_dog', 'predicted', 'wrong', 'cam']);
    const wrongFlags = selection.slice(1).map((r) => Number(r[5]));
    assert.deepEqual(
      wrongFlags,
      [...wrongFlags].sort((a, b) => b - a),
      'mistakes come first',
    );
    for (const r of selection.slice(1))
      assert.equal(Number(r[5]), (Number(r[3]) > 0.5 ? 'dog' : 'cat') !== r[2] ? 1 : 0, `wrong flag of ${r[1]}`);
    const testMistakes = cm[0][1] + cm[1][0];
    const drawnTestMistakes = selection.filter((r) => r[0] === 'test' && r[5] === '1').length;
    assert.equal(
      drawnTestMistakes,
      Math.min(testMistakes, Math.min(cm[0][1], 2) + Math.min(cm[1][0], 2)),
      'the test mistakes are drawn (at most per_class per true class)',
    );
    const grids = ['cam-mistakes.png', 'cam-hardest-correct.png'].filter((g) => existsSync(art(`visualize/${g}`)));
    assert.ok(grids.length > 0);
    for (const g of grids) assert.ok(isPng(art(`visualize/${g}`)));
    assert.ok(readdirSync(art('visualize/cam')).filter((f) => f.endsWith('.png')).length >= 2);
    const html = readFileSync(art('visualize/index.html'), 'utf8');
    for (const src of ['curves.png', 'augment-preview.png', ...grids]) {
      assert.ok(html.includes(`src="${src}"`), `index.html lacks ${src}`);
      assert.ok(existsSync(art(`visualize/${src}`)));
    }

    const second = cli(dir, 'run', '--json');
    assert.equal(second.code, 0, second.stderr);
    const actions = JSON.parse(second.stdout) as { stage: string; action: string; reasons?: string[] }[];
    assert.equal(actions.length, 8);
    for (const a of actions)
      assert.equal(
        a.action,
        'skipped',
        `${a.stage} was ${a.action} on the second run: ${(a.reasons ?? []).join('; ')}`,
      );
  },
);

test(
  'the saved full model loads with tf.loadLayersModel and agrees with ONNX base + head',
  { skip: !available && 'shared data not present' },
  async () => {
    const model = await tf.loadLayersModel(fileHandler(art('train/model/model.json')));
    const predictions = csvRows('predict/predictions.csv');
    const header = predictions[0];
    const row = predictions.find((r) => r[0] === '1')!;
    const pixels = await decodeImage(path.join(dir, 'data/test/1.jpg'), { size: 224 });
    const p = tf.tidy(
      () =>
        (model.predict(tf.tensor4d(toTensorInput([pixels], 224, 'tf'), [1, 224, 224, 3])) as tf.Tensor).dataSync()[0],
    );
    model.dispose();
    // ONNX vs TF.js feature differences are ~1e-5; through one sigmoid that stays far below 1e-3.
    assert.ok(
      Math.abs(p - Number(row[header.indexOf('p_plain')])) < 1e-3,
      `TF.js ${p} vs ONNX ${row[header.indexOf('p_plain')]}`,
    );
  },
);

function isPng(file: string): boolean {
  const head = readFileSync(file).subarray(0, 8);
  return head.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}

test(
  'training is deterministic: a forced rerun of train leaves every out byte-equal, and nothing downstream reruns',
  { skip: !available && 'shared data not present' },
  () => {
    const files = (folder: string): string[] =>
      readdirSync(art(folder), { recursive: true, encoding: 'utf8' })
        .filter((f) => statSync(art(`${folder}/${f}`)).isFile())
        .sort();
    const before = new Map(files('train').map((f) => [f, readFileSync(art(`train/${f}`))]));
    assert.ok(
      before.has('model/weights.bin') && before.has('curves.png') && before.has('history.csv'),
      [...before.keys()].join(', '),
    );
    const rerun = cli(dir, 'run', 'train', '--force', '--json');
    assert.equal(rerun.code, 0, rerun.stderr);
    const train = (JSON.parse(rerun.stdout) as { stage: string; action: string; outsUnchanged?: boolean }[]).find(
      (r) => r.stage === 'train',
    )!;
    assert.deepEqual([train.action, train.outsUnchanged], ['ran', true]);
    assert.deepEqual(files('train'), [...before.keys()]);
    for (const [f, bytes] of before)
      assert.ok(readFileSync(art(`train/${f}`)).equals(bytes), `train/${f} differs after a forced rerun`);
    const next = cli(dir, 'run', '--json');
    assert.equal(next.code, 0, next.stderr);
    for (const r of JSON.parse(next.stdout) as { stage: string; action: string }[])
      assert.equal(r.action, 'skipped', `${r.stage} was ${r.action} after train's outs came back unchanged`);
  },
);
