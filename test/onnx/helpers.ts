/** Shared helpers for the ONNX tests: run an exported graph and compare it with TF.js; an int8 backbone to test. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { decodeImage, toTensorInput } from '../../stages/lib/data/images.ts';
import { loadBackbone } from '../../stages/lib/inference/backbone.ts';
import { calibrate } from '../../stages/lib/inference/int8-backbone.ts';
import { rangesFor } from '../../stages/lib/inference/onnx/calibration.ts';
import { buildOnnxModel, exportToOnnx } from '../../stages/lib/inference/onnx/export.ts';
import { encodeModel, type OnnxModel } from '../../stages/lib/inference/onnx/protobuf.ts';
import { quantizeModel, type QuantizeSummary } from '../../stages/lib/inference/onnx/quantize.ts';
import { sessionOptions } from '../../stages/lib/inference/onnx/runner.ts';

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Deterministic pseudo-random values in [lo, hi). */
export function seededValues(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  }
  return out;
}

/** Replaces every weight of a model with seeded values (variances kept positive), so tests do not depend on initializers. */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    const fresh = ws.map((w, i) => {
      const name = layer.weights[i].originalName;
      const positive = /moving_variance|gamma/.test(name);
      return tf.tensor(
        seededValues(w.size, seed + i * 7919 + layer.name.length, positive ? 0.5 : -1, positive ? 2 : 1),
        w.shape,
      );
    });
    layer.setWeights(fresh);
    fresh.forEach((t) => t.dispose());
  }
}

export interface Comparison {
  maxAbsDiff: number;
  /** max |reference| — the feature scale the tolerance is relative to. */
  scale: number;
}

export function compare(actual: Float32Array, expected: Float32Array): Comparison {
  assert.equal(actual.length, expected.length, 'output sizes differ');
  let maxAbsDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return { maxAbsDiff, scale };
}

/**
 * Tolerance: 5e-4 of the feature scale (max |reference|). Both sides compute in
 * float32 with the same (TF.js-dequantized) weights; they differ only in
 * summation order (onnxruntime's blocked GEMMs vs TF.js' loops) and in the
 * rounding of BN folding. float32's epsilon is 1.2e-7; through the 15–40 layers
 * of these nets the reassociation error measures 2e-6 to 2e-5 of the scale on
 * real photos (mobilenet_v1_0.25: 1.2e-4 at scale 6; darknet: 6.9e-4 at 236),
 * so 5e-4 leaves a 25× margin for other CPUs' kernels. A real mistake (an
 * off-by-one pad, a transposed kernel, a wrong BN, pads counted in an average)
 * moved outputs by 0.17–0.9 of the scale in mutation checks, three orders of
 * magnitude above the tolerance.
 */
export const RELATIVE_TOLERANCE = 5e-4;

export function assertClose(actual: Float32Array, expected: Float32Array, what: string): Comparison {
  const c = compare(actual, expected);
  assert.ok(c.scale > 0, `${what}: reference output is all zeros, the comparison would prove nothing`);
  assert.ok(
    c.maxAbsDiff <= RELATIVE_TOLERANCE * c.scale,
    `${what}: max |onnx − tfjs| = ${c.maxAbsDiff} exceeds ${RELATIVE_TOLERANCE} × scale ${c.scale}`,
  );
  return c;
}

/** Runs an ONNX model (bytes) on NHWC input; returns maps and pooled. */
export async function runOnnx(
  bytes: Uint8Array,
  input: Float32Array,
  dims: number[],
): Promise<{ maps: ort.Tensor; pooled: ort.Tensor }> {
  const session = await ort.InferenceSession.create(bytes, sessionOptions(1));
  try {
    const out = await session.run({ input: new ort.Tensor('float32', input, dims) });
    return { maps: out.maps, pooled: out.pooled };
  } finally {
    await session.release();
  }
}

/** Exports `model`, runs both engines on `input`, asserts maps and pooled agree. */
export async function assertExportMatches(
  model: tf.LayersModel,
  input: Float32Array,
  dims: [number, number, number, number],
  what: string,
): Promise<Comparison> {
  const bytes = exportToOnnx(model);
  const { maps, pooled } = await runOnnx(bytes, input, dims);
  const [refMaps, refPooled] = tf.tidy(() => {
    const y = model.predict(tf.tensor4d(input, dims)) as tf.Tensor4D;
    return [y.dataSync() as Float32Array, tf.mean(y, [1, 2]).dataSync() as Float32Array];
  });
  const refShape = model.outputs[0].shape.slice(1);
  assert.deepEqual(maps.dims.slice(1), refShape, `${what}: maps shape`);
  const c = assertClose(maps.data as Float32Array, refMaps, `${what} maps`);
  assertClose(pooled.data as Float32Array, refPooled, `${what} pooled`);
  return c;
}

const TRAIN = path.resolve(import.meta.dirname, '../../../shared/datasets/dogs-vs-cats/train');
/** The int8 tests' calibration photos: 8 shared training photos, as build-model calibrates on training images. */
export const CALIBRATION = [
  'cat.2.jpg',
  'dog.2.jpg',
  'cat.3.jpg',
  'cat.4.jpg',
  'dog.4.jpg',
  'cat.7.jpg',
  'dog.7.jpg',
  'cat.8.jpg',
].map((f) => path.join(TRAIN, f));
/** The photos int8 is compared with fp32 on: none calibrated on, so the comparison is on unseen input. */
export const PHOTOS = ['cat.10.jpg', 'dog.10.jpg', 'cat.11.jpg', 'dog.11.jpg'].map((f) => path.join(TRAIN, f));

/** Whether a shared model and the int8 tests' photos are there (the tests skip where they are not). */
export function int8FixturePresent(model: string): boolean {
  return existsSync(model) && [...CALIBRATION, ...PHOTOS].every((f) => existsSync(f));
}

/**
 * A shared backbone's fp32 ONNX export and its int8 (QDQ) model, calibrated by minmax on CALIBRATION
 * (decoded at `size`, `batch` photos at a time) with the calibration build-model uses.
 */
export async function int8Backbone(
  model: string,
  cutLayer: string,
  size: number,
  batch: number,
): Promise<{ fp32: OnnxModel; int8: OnnxModel; summary: QuantizeSummary }> {
  await useCpuBackend();
  const backbone = await loadBackbone(model, { cutLayer });
  const fp32 = buildOnnxModel(backbone).model;
  backbone.dispose();
  async function* batches() {
    for (let i = 0; i < CALIBRATION.length; i += batch) {
      const pixels = await Promise.all(CALIBRATION.slice(i, i + batch).map((f) => decodeImage(f, { size })));
      yield { input: toTensorInput(pixels, size, 'tf'), n: pixels.length, size };
    }
  }
  const { model: int8, summary } = quantizeModel(fp32, rangesFor(await calibrate(fp32, batches(), 2), 'minmax'));
  return { fp32, int8, summary };
}

/** PHOTOS decoded at `size` and preprocessed as the job does: the NHWC input of pooledOnnx. */
export async function photosInput(size: number): Promise<Float32Array> {
  return toTensorInput(await Promise.all(PHOTOS.map((f) => decodeImage(f, { size }))), size, 'tf');
}

/** The pooled features onnxruntime computes for PHOTOS (`input` from photosInput); a profiled session writes its profile. */
export async function pooledOnnx(
  model: OnnxModel,
  input: Float32Array,
  size: number,
  options: ort.InferenceSession.SessionOptions = sessionOptions(2),
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(model), options);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', input, [PHOTOS.length, size, size, 3]) }, [
      'pooled',
    ]);
    if (options.enableProfiling) session.endProfiling();
    return out['pooled'].data as Float32Array;
  } finally {
    await session.release();
  }
}
