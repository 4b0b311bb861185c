/**
 * The int8 backbone (runtime.precision int8) against fp32, on the job's split
 * (stratified, data.val_fraction 0.1, data.seed 42 of ../shared/datasets/dogs-vs-cats/train):
 *  1. calibration on the seeded sample of TRAINING images build-model draws;
 *  2. each calibration method's pooled features on VALIDATION photos against fp32
 *     (max / mean |diff|, cosine): the method is chosen on these;
 *  3. speed, int8 against fp32 in the same run: forward only and decode + forward;
 *  4. with --stage N: the features stage's own rate (its log line) through the real CLI,
 *     on N training photos: 3 rounds alternating fp32 and int8, best of each.
 *
 *   npm run bench:int8 -- [--model xception_block13_299] [--cut add_12] [--calib 64] [--val 100] [--speed 64] [--stage 0] [--methods minmax,percentile,entropy]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { listLabelledImages, type LabelledImage } from '../stages/lib/data/dataset.ts';
import { imageBatches, toTensorInput, type Preprocess } from '../stages/lib/data/images.ts';
import { loadBackbone } from '../stages/lib/inference/backbone.ts';
import { calibrationSample } from '../stages/lib/inference/int8-backbone.ts';
import { CALIBRATION_METHODS, rangesFor, type CalibrationMethod } from '../stages/lib/inference/onnx/calibration.ts';
import { buildOnnxModel } from '../stages/lib/inference/onnx/export.ts';
import { encodeModel } from '../stages/lib/inference/onnx/protobuf.ts';
import { quantizeModel } from '../stages/lib/inference/onnx/quantize.ts';
import { OnnxRunner } from '../stages/lib/inference/onnx/runner.ts';
import { stratifiedSplit } from '../stages/split.ts';
import { jobPipelineYaml } from '../test/job-pipeline.ts';
import { calibrationStats, simdName } from './int8-model.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const SHARED = path.resolve(REPO, '../shared');
const TRAIN_DIR = path.join(SHARED, 'datasets/dogs-vs-cats/train');
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) =>
  args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback;
const modelName = arg('model', 'xception_block13_299');
const cut = arg('cut', modelName.startsWith('xception') ? 'add_12' : '');
const calibImages = Number(arg('calib', '64'));
const valImages = Number(arg('val', '100'));
const speedImages = Number(arg('speed', '64'));
const stageImages = Number(arg('stage', '0'));
const methods = arg('methods', CALIBRATION_METHODS.join(',')).split(',') as CalibrationMethod[];
const preprocess: Preprocess = modelName.startsWith('darknet') ? 'unit' : 'tf';
const threads = os.availableParallelism();
const BATCH = 16;

const seconds = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};

console.log(`CPU: ${threads} cores, ${os.cpus()[0]?.model ?? '?'}; SIMD: ${simdName()}`);
const { train, val } = stratifiedSplit(await listLabelledImages(TRAIN_DIR), 0.1, 42);
console.log(`split: ${train.length} train, ${val.length} val photos (val_fraction 0.1, seed 42)`);

await tf.setBackend('cpu');
const backbone = await loadBackbone(path.join(SHARED, 'models', modelName), cut ? { cutLayer: cut } : {});
const size = backbone.inputs[0].shape[1]!;
const fp32 = buildOnnxModel(backbone).model;
backbone.dispose();

const sample = calibrationSample(train, calibImages, 42);
let stats!: Awaited<ReturnType<typeof calibrationStats>>;
const calibSeconds = await seconds(
  async () => (stats = await calibrationStats(fp32, sample, size, preprocess, threads)),
);
console.log(
  `calibration: ${stats.size} activations on ${sample.length} training images in ${calibSeconds.toFixed(1)} s`,
);

/** Pooled features of `photos`, [n × c], through `runner`, batches of BATCH. */
async function pooled(runner: OnnxRunner, photos: readonly LabelledImage[]): Promise<Float32Array[]> {
  const rows: Float32Array[] = [];
  for await (const b of imageBatches(photos, { size, batchSize: BATCH })) {
    const out = await runner.run(toTensorInput(b.pixels, size, preprocess), b.pixels.length);
    for (let i = 0; i < b.pixels.length; i++) rows.push(out.pooled.slice(i * out.channels, (i + 1) * out.channels));
  }
  return rows;
}

function compare(a: Float32Array[], b: Float32Array[]) {
  let maxAbs = 0;
  let sumAbs = 0;
  let sumRef = 0;
  let n = 0;
  let minCos = 1;
  let sumCos = 0;
  for (let i = 0; i < a.length; i++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let k = 0; k < a[i].length; k++) {
      const x = a[i][k];
      const y = b[i][k];
      maxAbs = Math.max(maxAbs, Math.abs(x - y));
      sumAbs += Math.abs(x - y);
      sumRef += Math.abs(y);
      n++;
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    const cos = ab / Math.sqrt(aa * bb);
    minCos = Math.min(minCos, cos);
    sumCos += cos;
  }
  return { maxAbs, meanAbs: sumAbs / n, meanRef: sumRef / n, minCos, meanCos: sumCos / a.length };
}

const valPhotos = val.slice(0, valImages);
const fp32Bytes = encodeModel(fp32);
const fp32Runner = await OnnxRunner.open(fp32Bytes, { inputSize: size, threads });
const reference = await pooled(fp32Runner, valPhotos);
const byMethod: { method: CalibrationMethod; bytes: Uint8Array; convs: string; diff: ReturnType<typeof compare> }[] =
  [];
for (const method of methods) {
  const { model, summary } = quantizeModel(fp32, rangesFor(stats, method));
  const bytes = encodeModel(model);
  const runner = await OnnxRunner.open(bytes, { inputSize: size, threads, precision: 'int8' });
  const diff = compare(await pooled(runner, valPhotos), reference);
  await runner.dispose();
  byMethod.push({ method, bytes, convs: `${summary.quantizedConvs} int8, ${summary.floatConvs.length} float`, diff });
  console.log(`${method}: ${JSON.stringify(diff)}`);
}
console.log(
  `\npooled features on ${valPhotos.length} validation photos, int8 vs fp32 (${modelName}${cut ? ` @ ${cut}` : ''}; mean |fp32 feature| ${byMethod[0]?.diff.meanRef.toFixed(4)})`,
);
console.log('| calibration | convolutions | max abs diff | mean abs diff | min cosine | mean cosine |');
console.log('|---|---|---|---|---|---|');
for (const m of byMethod) {
  console.log(
    `| ${m.method} | ${m.convs} | ${m.diff.maxAbs.toFixed(4)} | ${m.diff.meanAbs.toFixed(5)} | ${m.diff.minCos.toFixed(5)} | ${m.diff.meanCos.toFixed(5)} |`,
  );
}
const best = byMethod.reduce((a, b) => (b.diff.meanAbs < a.diff.meanAbs ? b : a));
console.log(`chosen on validation (smallest mean abs diff): ${best.method}`);

// Speed: the same photos through fp32 and int8, alternating, best of 3 rounds each.
const int8Runner = await OnnxRunner.open(best.bytes, { inputSize: size, threads, precision: 'int8' });
const speedPhotos = calibrationSample(train, Math.max(speedImages, BATCH), 7); // cats and dogs (the split lists cats first)
const first = await (async () => {
  for await (const b of imageBatches(speedPhotos.slice(0, BATCH), { size, batchSize: BATCH })) {
    if (b.pixels.length === BATCH) return toTensorInput(b.pixels, size, preprocess);
  }
  throw new Error(`the first ${BATCH} speed photos did not all decode`);
})();
const rates = { fp32: { fwd: 0, e2e: 0 }, int8: { fwd: 0, e2e: 0 } };
const reps = Math.max(2, Math.ceil(speedImages / BATCH));
await fp32Runner.run(first, BATCH);
await int8Runner.run(first, BATCH);
for (let round = 0; round < 3; round++) {
  for (const [name, runner] of [
    ['fp32', fp32Runner],
    ['int8', int8Runner],
  ] as const) {
    const fwd =
      (reps * BATCH) /
      (await seconds(async () => {
        for (let r = 0; r < reps; r++) await runner.run(first, BATCH);
      }));
    const e2e = speedPhotos.length / (await seconds(() => pooled(runner, speedPhotos)));
    rates[name].fwd = Math.max(rates[name].fwd, fwd);
    rates[name].e2e = Math.max(rates[name].e2e, e2e);
  }
}
await fp32Runner.dispose();
await int8Runner.dispose();
console.log(
  `\nspeed, ${modelName}, batch ${BATCH}, ${threads} threads, best of 3 alternating rounds (SIMD: ${simdName()})`,
);
console.log('| precision | img/s forward only | × fp32 | img/s decode + forward | × fp32 |');
console.log('|---|---|---|---|---|');
for (const name of ['fp32', 'int8'] as const) {
  const r = rates[name];
  console.log(
    `| ${name} | ${r.fwd.toFixed(2)} | ${(r.fwd / rates.fp32.fwd).toFixed(2)}× | ${r.e2e.toFixed(2)} | ${(r.e2e / rates.fp32.e2e).toFixed(2)}× |`,
  );
}

if (stageImages > 0) {
  // The features stage's own rate: its log line "(X images/s on <engine>)". One project per precision, built
  // once; then 3 rounds alternating fp32 and int8, each a forced rerun into an empty feature store; best of each.
  const stageRate: Record<string, number> = { fp32: 0, int8: 0 };
  const dirs = { fp32: '', int8: '' };
  try {
    for (const precision of ['fp32', 'int8'] as const) {
      const dir = (dirs[precision] = mkdtempSync(path.join(tmpdir(), `bench-int8-${precision}-`)));
      mkdirSync(path.join(dir, 'data/train'), { recursive: true });
      mkdirSync(path.join(dir, 'data/test'), { recursive: true });
      for (const p of calibrationSample(train, stageImages, 7))
        copyFileSync(p.path, path.join(dir, 'data/train', path.basename(p.path)));
      symlinkSync(path.join(REPO, 'stages'), path.join(dir, 'stages'), 'dir');
      writeFileSync(
        path.join(dir, 'pipeline.yaml'),
        jobPipelineYaml({
          data: { train_dir: 'data/train', test_dir: 'data/test', test_labels: '', val_fraction: 0.1, seed: 42 },
          augment: { copies: 0 },
          runtime: { device: 'cpu', precision },
          quantize: { method: best.method, images: calibImages },
          model: { backbone: path.join(SHARED, 'models', modelName), cut_layer: cut, input_size: size, preprocess },
        }),
      );
    }
    for (let round = 0; round < 3; round++) {
      for (const precision of ['fp32', 'int8'] as const) {
        const again = round === 0 ? [] : ['--force', '--set', `runtime.feature_store=store-${round}`];
        const r = spawnSync(
          process.execPath,
          [path.join(REPO, 'packages/engine/bin/pipeline.js'), 'run', 'features', ...again],
          { cwd: dirs[precision], encoding: 'utf8', env: { ...process.env, CI: '1' } },
        );
        const line = (r.stdout + r.stderr).split('\n').find((l) => /images\/s on onnx/.test(l));
        const rate = Number(line?.match(/\(([\d.]+) images\/s on (onnx[\w-]*)\)/)?.[1]);
        if (r.status !== 0 || !Number.isFinite(rate))
          throw new Error(`features (${precision}) failed or printed no rate:\n${r.stdout}\n${r.stderr}`);
        stageRate[precision] = Math.max(stageRate[precision], rate);
        console.log(`features stage, round ${round + 1}, ${precision}: ${line!.trim()}`);
      }
    }
  } finally {
    for (const dir of Object.values(dirs)) if (dir) rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `\nfeatures stage's own rate on ${stageImages} training photos, best of 3 alternating rounds: fp32 ${stageRate.fp32} images/s, int8 ${stageRate.int8} images/s, ${(stageRate.int8 / stageRate.fp32).toFixed(2)}×`,
  );
}
