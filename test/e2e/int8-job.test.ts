/**
 * runtime.precision int8 through the real CLI, on 24 photos and the smallest
 * backbone: build-model calibrates on training images only, features runs the
 * QDQ model on onnxruntime's int8 kernels, int8 and fp32 features never share a
 * store entry, and a GPU device is refused. The tests run in order on one project.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HUNG_AFTER_MS } from '../failsafe.ts';
import { after, before, test } from 'node:test';
import { cosine } from '../cosine.ts';
import { BACKBONE, cli, copyInto, jobProject, photos, store, TRAIN_SRC } from './job-fixture.ts';

const available = existsSync(TRAIN_SRC) && existsSync(BACKBONE);

let dir = '';
const read = (rel: string) => readFileSync(path.join(dir, rel));
const report = () =>
  JSON.parse(read('artifacts/features/report.json').toString()) as {
    engine: string;
    rows: number;
  };
const backboneFiles = () => readdirSync(path.join(dir, 'artifacts/build-model/backbone')).sort();

before(() => {
  if (!available) return;
  dir = jobProject(mkdtempSync(path.join(tmpdir(), 'pipeline-int8-')), {
    data: { train_dir: 'data/train', test_dir: 'data/test', test_labels: '', val_fraction: 0.25, seed: 1 },
    augment: { copies: 0, seed: 1 },
    model: { backbone: BACKBONE, cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
    runtime: { inference: 'auto', device: 'cpu', threads: 0, batch_size: 4, precision: 'fp32' },
    quantize: { method: 'minmax', images: 8, seed: 3 },
  });
  const cats = photos('cat', 0, 13);
  copyInto([...cats.slice(0, 12), ...photos('dog', 0, 12)], path.join(dir, 'data/train'));
  copyFileSync(cats[12], path.join(dir, 'data/test/1.jpg'));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Pooled feature rows of artifacts/features, [rows][dim]. */
function featureRows(): Float32Array[] {
  const bytes = read('artifacts/features/features.f32');
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const rows = report().rows;
  const dim = all.length / rows;
  return Array.from({ length: rows }, (_, i) => all.slice(i * dim, (i + 1) * dim));
}

let fp32Rows: Float32Array[] = [];
let fp32Bytes: Buffer;
let fp32Backbone: string[] = [];

test(
  'fp32 (the default): build-model writes no int8 model; features run on onnx',
  { skip: !available, timeout: HUNG_AFTER_MS },
  () => {
    const r = cli(dir, 'run', 'features');
    assert.equal(r.code, 0, r.output);
    assert.equal(report().engine, 'onnx');
    assert.equal(store(dir).computed, 24);
    fp32Backbone = backboneFiles();
    assert.ok(
      !fp32Backbone.includes('backbone.int8.onnx') && !fp32Backbone.includes('calibration.json'),
      fp32Backbone.join(', '),
    );
    fp32Rows = featureRows();
    fp32Bytes = read('artifacts/features/features.f32');
  },
);

test(
  'int8: calibrated on training images only, run on the int8 engine, never read from the fp32 entries',
  { skip: !available, timeout: HUNG_AFTER_MS },
  () => {
    const r = cli(dir, 'run', 'features', '--set', 'runtime.precision=int8');
    assert.equal(r.code, 0, r.output);
    assert.match(
      r.output,
      /int8 export: backbone\.int8\.onnx .* 26 convolutions int8, 1 float \(conv_pw_13_bn\); \d+ activations calibrated \(minmax\) on 8 training images/,
    );
    assert.match(
      r.output,
      /onnxruntime-node on cpu, int8 \(26 int8 convolutions, calibrated by minmax on 8 training images\)/,
    );
    assert.equal(report().engine, 'onnx-int8');
    assert.deepEqual(store(dir), { fromStore: 0, computed: 24 });

    const calibration = JSON.parse(read('artifacts/build-model/backbone/calibration.json').toString()) as {
      sample: string[];
      method: string;
      images: number;
    };
    const listed = (file: string) =>
      new Set(
        read(file)
          .toString()
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(',')[0]),
      );
    const train = listed('artifacts/split/train.csv');
    const val = listed('artifacts/split/val.csv');
    assert.equal(calibration.sample.length, 8);
    for (const p of calibration.sample) assert.ok(train.has(p) && !val.has(p), `${p} is a training image`);

    // Same rows, same order, close to fp32 but not equal (QDQ arithmetic, not a copy of the fp32 entries).
    const rows = featureRows();
    assert.equal(rows.length, fp32Rows.length);
    let worst = 1;
    for (let i = 0; i < rows.length; i++) worst = Math.min(worst, cosine(rows[i], fp32Rows[i]));
    assert.ok(worst > 0.9, `int8 vs fp32 pooled features: min cosine ${worst}`);
    assert.ok(!read('artifacts/features/features.f32').equals(fp32Bytes), 'int8 features differ from fp32 ones');
  },
);

test(
  'int8 on a GPU device is refused with a one-line error, before any backbone pass',
  { skip: !available, timeout: HUNG_AFTER_MS },
  () => {
    for (const device of ['webgpu', 'cuda']) {
      const r = cli(
        dir,
        'run',
        'features',
        '--force',
        '--set',
        'runtime.precision=int8',
        '--set',
        `runtime.device=${device}`,
      );
      assert.notEqual(r.code, 0);
      assert.match(
        r.output,
        new RegExp(
          `runtime\\.precision int8 runs on onnxruntime's CPU provider only, but runtime\\.device is ${device}: set runtime\\.device to cpu \\(or auto\\), or runtime\\.precision to fp32`,
        ),
      );
    }
  },
);

test(
  'back to fp32: every row comes from the store, byte-identical to the first fp32 run',
  { skip: !available, timeout: HUNG_AFTER_MS },
  () => {
    // --force: rerun features itself (not restored from the run cache), so the store is what answers.
    const r = cli(dir, 'run', 'features', '--force');
    assert.equal(r.code, 0, r.output);
    assert.equal(report().engine, 'onnx');
    assert.deepEqual(backboneFiles(), fp32Backbone);
    assert.equal(store(dir).computed, 0);
    assert.equal(store(dir).fromStore, 24);
    assert.ok(read('artifacts/features/features.f32').equals(fp32Bytes));
  },
);
