/**
 * Backbone inference benchmark: the `features` stage's work (decode + resize +
 * forward) per backbone in ../shared/models, on onnxruntime-node, TF.js WASM
 * and TF.js pure-JS cpu, with GFLOP/s and the fraction of this CPU's FP32 peak;
 * plus ONNX-vs-TF.js agreement on real photos for every backbone; and the int8
 * (QDQ) model of runtime.precision int8 against fp32 in the same run, with the
 * CPU's integer SIMD named (calibrated by minmax on 32 photos not timed).
 *
 *   npm run bench:inference -- [--models a,b] [--quick]
 *
 * Decoding overlaps inference the way the stage does it (imageBatches decodes
 * the next batch while the current one runs). "forward" rates time the engine
 * alone on an already-decoded batch.
 */
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { loadBackbone } from '../stages/lib/inference/backbone.ts';
import { listLabelledImages } from '../stages/lib/data/dataset.ts';
import { decodeImage, imageBatches, toTensorInput, type Preprocess } from '../stages/lib/data/images.ts';
import { buildOnnxModel } from '../stages/lib/inference/onnx/export.ts';
import { encodeModel } from '../stages/lib/inference/onnx/protobuf.ts';
import { OnnxRunner } from '../stages/lib/inference/onnx/runner.ts';
import { cpuPeak } from './onnx-cpu-peak.ts';
import { quantizeModel } from '../stages/lib/inference/onnx/quantize.ts';
import { rangesFor } from '../stages/lib/inference/onnx/calibration.ts';
import { calibrationStats, simdName } from './int8-model.ts';
import { minCosine } from '../test/cosine.ts';

const SHARED = path.resolve(import.meta.dirname, '../../shared');

interface Backbone {
  folder: string;
  cutLayer?: string;
  preprocess: Preprocess;
}

const BACKBONES: Backbone[] = [
  { folder: 'mobilenet_v1_0.25_224', cutLayer: 'conv_pw_13_relu', preprocess: 'tf' },
  { folder: 'mobilenet_v2_0.35_224_tm', preprocess: 'tf' },
  { folder: 'mobilenet_v1_0.75_224', cutLayer: 'conv_pw_13_relu', preprocess: 'tf' },
  { folder: 'darknet_tiny_224', cutLayer: 'leaky_re_lu_15', preprocess: 'unit' },
  { folder: 'mobilenet_v1_1.0_dw13_224', preprocess: 'tf' },
  { folder: 'xception_block13_299', preprocess: 'tf' },
];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--models') ? args[args.indexOf('--models') + 1].split(',') : undefined;
const threads = os.availableParallelism();

interface Row {
  backbone: string;
  engine: string;
  batch: number;
  images: number;
  e2e: number; // images/s, decode + resize + forward
  forward: number; // images/s, forward only
  gflop: number; // per image
}

const rows: Row[] = [];
const trainPhotos = await listLabelledImages(path.join(SHARED, 'datasets/dogs-vs-cats/train'));
const photos = trainPhotos.slice(0, 256);
/** The int8 model's calibration photos: none of them is timed or compared. */
const calibrationPhotos = trainPhotos.slice(-32);

async function timeIt(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** images/s of decode + resize + forward over `count` photos, batches of `batch`. */
async function endToEnd(
  size: number,
  preprocess: Preprocess,
  batch: number,
  count: number,
  forward: (x: Float32Array, n: number) => Promise<void>,
): Promise<number> {
  const items = photos.slice(0, count);
  let buffer: Float32Array | undefined;
  const seconds = await timeIt(async () => {
    for await (const b of imageBatches(items, { size, batchSize: batch, concurrency: 2 })) {
      buffer = toTensorInput(b.pixels, size, preprocess, buffer);
      await forward(buffer, b.pixels.length);
    }
  });
  return count / seconds;
}

/**
 * images/s of the forward pass alone: one warm-up, then `rounds` rounds of `reps`
 * batches; the best round counts (other work on a shared machine only slows a round down).
 */
async function forwardOnly(
  input: Float32Array,
  batch: number,
  reps: number,
  forward: (x: Float32Array, n: number) => Promise<void>,
  rounds = 3,
): Promise<number> {
  await forward(input, batch);
  let best = 0;
  for (let k = 0; k < rounds; k++) {
    const seconds = await timeIt(async () => {
      for (let r = 0; r < reps; r++) await forward(input, batch);
    });
    best = Math.max(best, (batch * reps) / seconds);
  }
  return best;
}

async function decodedBatch(size: number, preprocess: Preprocess, n: number): Promise<Float32Array> {
  const pixels = await Promise.all(photos.slice(0, n).map((p) => decodeImage(p.path, { size })));
  return toTensorInput(pixels, size, preprocess);
}

function tfjsForward(model: tf.LayersModel, size: number) {
  return async (x: Float32Array, n: number) => {
    const pooled = tf.tidy(() =>
      tf.mean(
        model.predict(tf.tensor4d(x.subarray(0, n * size * size * 3), [n, size, size, 3])) as tf.Tensor4D,
        [1, 2],
      ),
    );
    await pooled.data();
    pooled.dispose();
  };
}

function maxAbs(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

const peak = cpuPeak();
console.log(
  `CPU: ${peak.cores} cores, ${peak.isa} → ${peak.flopPerCycle} FP32 FLOP/cycle/core, clock ${peak.clockGHz.toFixed(2)} GHz (${peak.clockSource}; ` +
    `/proc/cpuinfo says ${peak.nominalMHz} MHz) → peak ${peak.peakGflops.toFixed(0)} GFLOP/s` +
    (peak.loop
      ? `; FMA loop: ${peak.loop.oneThread.toFixed(0)} GFLOP/s on 1 thread, ${peak.loop.allThreads.toFixed(0)} on ${peak.cores}`
      : ''),
);

console.log(`SIMD: ${simdName()}`);

const correctness: { backbone: string; diff: number; scale: number; pooledDiff: number }[] = [];
/** int8 vs fp32, measured back to back at each batch size. */
const int8Rows: {
  backbone: string;
  batch: number;
  images: number;
  fp32: Row;
  e2e: number;
  forward: number;
  minCosine: number;
}[] = [];

// The decoder's own ceiling: images/s of decode + resize alone, at each input size.
const decodeRate = new Map<number, number>();
for (const size of [224, 299]) {
  const rate = await endToEnd(size, 'tf', 16, 256, async () => {});
  decodeRate.set(size, rate);
  console.log(`decode + resize only (sharp, ${size}×${size}): ${rate.toFixed(0)} images/s`);
}

for (const bb of BACKBONES) {
  if (only && !only.includes(bb.folder)) continue;
  const source = path.join(SHARED, 'models', bb.folder);
  const large = bb.folder.startsWith('xception');

  // --- onnxruntime-node -------------------------------------------------------
  await tf.setBackend('cpu');
  const model = await loadBackbone(source, { cutLayer: bb.cutLayer });
  const size = model.inputs[0].shape[1]!;
  const exported = buildOnnxModel(model);
  const gflop = exported.flopsPerImage / 1e9;
  const onnxBytes = encodeModel(exported.model);
  model.dispose();
  const runner = await OnnxRunner.open(onnxBytes, { inputSize: size, threads });
  const onnxForward = async (x: Float32Array, n: number) => {
    await runner.run(x, n);
  };
  const stats = await calibrationStats(exported.model, calibrationPhotos, size, bb.preprocess, threads);
  const int8Bytes = encodeModel(quantizeModel(exported.model, rangesFor(stats, 'minmax')).model);
  const int8Runner = await OnnxRunner.open(int8Bytes, { inputSize: size, threads, precision: 'int8' });
  const int8Forward = async (x: Float32Array, n: number) => {
    await int8Runner.run(x, n);
  };
  for (const batch of quick ? [8] : [1, 8, 16, 32]) {
    const input = await decodedBatch(size, bb.preprocess, batch);
    const reps = Math.max(2, Math.ceil((large ? 24 : 128) / batch));
    const forward = await forwardOnly(input, batch, reps, onnxForward);
    const count = large ? 64 : 256;
    const e2e = await endToEnd(size, bb.preprocess, batch, count, onnxForward);
    const fp32Row: Row = { backbone: bb.folder, engine: 'onnxruntime', batch, images: count, e2e, forward, gflop };
    rows.push(fp32Row);
    console.log(`${bb.folder} onnx batch ${batch}: forward ${forward.toFixed(1)}/s, e2e ${e2e.toFixed(1)}/s`);
    // int8 right after fp32 on the same photos, so both see the same machine load.
    const qForward = await forwardOnly(input, batch, reps, int8Forward);
    const qE2e = await endToEnd(size, bb.preprocess, batch, count, int8Forward);
    const ref = await runner.run(input, batch);
    const got = await int8Runner.run(input, batch);
    int8Rows.push({
      backbone: bb.folder,
      batch,
      images: count,
      fp32: fp32Row,
      e2e: qE2e,
      forward: qForward,
      minCosine: minCosine(got.pooled, ref.pooled, batch),
    });
    console.log(`${bb.folder} onnx int8 batch ${batch}: forward ${qForward.toFixed(1)}/s, e2e ${qE2e.toFixed(1)}/s`);
  }
  await int8Runner.dispose();
  if (!quick) {
    // onnxruntime's default: idle pool threads spin-wait (compare with the runner's default, no spinning).
    const spinning = await OnnxRunner.open(onnxBytes, { inputSize: size, threads, spinWait: true });
    const batch = 16;
    const spinForward = async (x: Float32Array, n: number) => {
      await spinning.run(x, n);
    };
    const forward = await forwardOnly(
      await decodedBatch(size, bb.preprocess, batch),
      batch,
      Math.ceil((large ? 24 : 128) / batch),
      spinForward,
    );
    const count = large ? 64 : 256;
    const e2e = await endToEnd(size, bb.preprocess, batch, count, spinForward);
    rows.push({ backbone: bb.folder, engine: 'onnxruntime, spin-wait', batch, images: count, e2e, forward, gflop });
    await spinning.dispose();
  }

  // --- TF.js WASM (also the correctness reference: it is TF.js, and fast enough for Xception) ---
  wasm.setThreadsCount(threads);
  await tf.setBackend('wasm');
  const wasmModel = await loadBackbone(source, { cutLayer: bb.cutLayer });
  const refInput = await decodedBatch(size, bb.preprocess, 3);
  const [refMaps, refPooled] = tf.tidy(() => {
    const y = wasmModel.predict(tf.tensor4d(refInput, [3, size, size, 3])) as tf.Tensor4D;
    return [y.dataSync() as Float32Array, tf.mean(y, [1, 2]).dataSync() as Float32Array];
  });
  const onnxOut = await runner.run(refInput, 3, { maps: true });
  const m = maxAbs(onnxOut.maps!, refMaps);
  correctness.push({
    backbone: bb.folder,
    diff: m.diff,
    scale: m.scale,
    pooledDiff: maxAbs(onnxOut.pooled, refPooled).diff,
  });
  await runner.dispose();

  const wasmBatch = 8;
  const wasmInput = await decodedBatch(size, bb.preprocess, wasmBatch);
  const wf = tfjsForward(wasmModel, size);
  const wasmForward = await forwardOnly(wasmInput, wasmBatch, 1, wf, large ? 1 : 2);
  const wasmCount = large ? 16 : 32;
  const wasmE2e = await endToEnd(size, bb.preprocess, wasmBatch, wasmCount, wf);
  rows.push({
    backbone: bb.folder,
    engine: `tfjs-wasm (${wasm.getThreadsCount()} thr)`,
    batch: wasmBatch,
    images: wasmCount,
    e2e: wasmE2e,
    forward: wasmForward,
    gflop,
  });
  console.log(`${bb.folder} wasm: forward ${wasmForward.toFixed(2)}/s, e2e ${wasmE2e.toFixed(2)}/s`);
  wasmModel.dispose();

  // --- TF.js pure JS: a few images only -------------------------------------------------------
  await tf.setBackend('cpu');
  const cpuModel = await loadBackbone(source, { cutLayer: bb.cutLayer });
  const cpuBatch = large ? 1 : 2;
  const cf = tfjsForward(cpuModel, size);
  const cpuInput = await decodedBatch(size, bb.preprocess, cpuBatch);
  // No warm-up pass for the slow engine: its first pass is representative (no JIT-able kernels to cache).
  const cpuForward = cpuBatch / (await timeIt(() => cf(cpuInput, cpuBatch)));
  const cpuE2e = await endToEnd(size, bb.preprocess, cpuBatch, cpuBatch, cf);
  rows.push({
    backbone: bb.folder,
    engine: 'tfjs-cpu',
    batch: cpuBatch,
    images: cpuBatch,
    e2e: cpuE2e,
    forward: cpuForward,
    gflop,
  });
  console.log(`${bb.folder} cpu: forward ${cpuForward.toFixed(2)}/s, e2e ${cpuE2e.toFixed(2)}/s`);
  cpuModel.dispose();
}

console.log(
  `\ndecode + resize alone (sharp, 256 photos, 2 files at a time): ${[...decodeRate].map(([s, r]) => `${r.toFixed(0)} images/s at ${s}×${s}`).join(', ')}`,
);
const pct = (gflops: number) => `${((100 * gflops) / peak.peakGflops).toFixed(1)}%`;
console.log(
  '\n| backbone | GFLOP/img | engine | batch | images | img/s (decode+resize+fwd) | GFLOP/s | % peak | img/s (fwd only) | GFLOP/s fwd | % peak fwd | × WASM e2e | × WASM fwd |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const wasmRow = rows.find((w) => w.backbone === r.backbone && w.engine.startsWith('tfjs-wasm'));
  const speedup = wasmRow
    ? `${(r.e2e / wasmRow.e2e).toFixed(1)}× | ${(r.forward / wasmRow.forward).toFixed(1)}×`
    : ' | ';
  console.log(
    `| ${r.backbone} | ${r.gflop.toFixed(3)} | ${r.engine} | ${r.batch} | ${r.images} | ${r.e2e.toFixed(r.e2e < 10 ? 2 : 1)} | ${(r.e2e * r.gflop).toFixed(1)} | ${pct(r.e2e * r.gflop)} | ` +
      `${r.forward.toFixed(r.forward < 10 ? 2 : 1)} | ${(r.forward * r.gflop).toFixed(1)} | ${pct(r.forward * r.gflop)} | ${speedup} |`,
  );
}
console.log('\nONNX vs TF.js WASM on 3 real photos (maps = cut layer output; scale = max |TF.js maps|):');
console.log('| backbone | max abs diff (maps) | scale | relative | max abs diff (pooled) |');
console.log('|---|---|---|---|---|');
for (const c of correctness) {
  console.log(
    `| ${c.backbone} | ${c.diff.toExponential(2)} | ${c.scale.toFixed(3)} | ${(c.diff / c.scale).toExponential(2)} | ${c.pooledDiff.toExponential(2)} |`,
  );
}
console.log(
  `\nint8 (QDQ, minmax on 32 other photos) vs fp32 on onnxruntime's CPU provider, measured back to back; SIMD: ${simdName()}`,
);
console.log(
  '| backbone | batch | images | fp32 img/s e2e | int8 img/s e2e | × fp32 e2e | fp32 img/s fwd | int8 img/s fwd | × fp32 fwd | min cosine (pooled) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of int8Rows) {
  const f = (x: number) => x.toFixed(x < 10 ? 2 : 1);
  console.log(
    `| ${r.backbone} | ${r.batch} | ${r.images} | ${f(r.fp32.e2e)} | ${f(r.e2e)} | ${(r.e2e / r.fp32.e2e).toFixed(2)}× | ${f(r.fp32.forward)} | ${f(r.forward)} | ${(r.forward / r.fp32.forward).toFixed(2)}× | ${r.minCosine.toFixed(4)} |`,
  );
}
