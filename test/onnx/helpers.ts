/** Shared helpers for the ONNX tests: run an exported graph and compare it with TF.js. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { exportToOnnx } from '../../stages/lib/inference/onnx/export.ts';
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
