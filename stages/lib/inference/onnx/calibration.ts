/**
 * Calibration of a QDQ model's activation ranges: the fp32 graph runs on sample
 * images with every tensor `calibrationTargets` names added as an output, and
 * each tensor's min, max and histogram of |x| are gathered in one pass. The
 * histogram (2048 bins) widens by doubling, merging bin pairs, so no second pass
 * is needed; the three methods then read their range from the same statistics:
 *   minmax      the observed [min, max]
 *   percentile  |x| clipped at the 99.99th percentile
 *   entropy     |x| clipped where the KL divergence between the float histogram
 *               and its quantized version is smallest (TensorRT's method)
 */
import * as ort from 'onnxruntime-node';
import { encodeModel, TensorDataType, type OnnxModel } from './protobuf.ts';
import type { Range } from './quantize.ts';
import { sessionOptions } from './runner.ts';
import { ONNX_INPUT_NAME } from './export.ts';
import { CALIBRATION_METHODS } from '../../stage/shared-params.ts';

export { CALIBRATION_METHODS };
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

const BINS = 2048;
export const PERCENTILE = 99.99;
/** The count a bin of q that p has gets (onnxruntime's smooth_distribution epsilon). */
const SMOOTHING = 1e-4;

/** One tensor's running statistics. */
export class TensorStats {
  min = Infinity;
  max = -Infinity;
  /** Counts of |x| in bins of `width`, over [0, BINS × width). */
  readonly hist = new Float64Array(BINS);
  width = 0;

  add(data: Float32Array): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    const absMax = Math.max(Math.abs(lo), Math.abs(hi));
    if (this.width === 0) {
      if (absMax === 0) {
        this.hist[0] += data.length;
        return;
      }
      this.width = absMax / BINS;
    }
    while (absMax >= this.width * BINS) this.widen();
    const inv = 1 / this.width;
    const hist = this.hist;
    for (let i = 0; i < data.length; i++) {
      const b = Math.floor(Math.abs(data[i]) * inv);
      hist[b < BINS ? b : BINS - 1]++;
    }
  }

  /** Doubles the bin width: bins 2i and 2i+1 become bin i. */
  private widen(): void {
    for (let i = 0; i < BINS / 2; i++) this.hist[i] = this.hist[2 * i] + this.hist[2 * i + 1];
    this.hist.fill(0, BINS / 2);
    this.width *= 2;
  }

  /** The range `method` keeps: always holds 0, clipped |x| ≤ threshold for percentile and entropy. */
  range(method: CalibrationMethod): Range {
    const lo = Math.min(0, this.min);
    const hi = Math.max(0, this.max);
    if (method === 'minmax' || this.width === 0) return [lo, hi];
    const t =
      method === 'percentile' ? this.percentileThreshold(PERCENTILE) : this.entropyThreshold(lo < 0 ? 128 : 256);
    return [Math.max(lo, -t), Math.min(hi, t)];
  }

  private percentileThreshold(p: number): number {
    const total = this.hist.reduce((a, b) => a + b, 0);
    let acc = 0;
    for (let i = 0; i < BINS; i++) {
      acc += this.hist[i];
      if (acc >= (p / 100) * total) return (i + 1) * this.width;
    }
    return BINS * this.width;
  }

  /** The |x| threshold whose clipped and `levels`-quantized histogram is closest (KL) to the float one. */
  private entropyThreshold(levels: number): number {
    const hist = this.hist;
    let last = BINS;
    while (last > 0 && hist[last - 1] === 0) last--;
    if (last <= levels) return last * this.width;
    const suffix = new Float64Array(BINS + 1);
    for (let i = BINS - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + hist[i];
    let best = last;
    let bestKl = Infinity;
    const q = new Float64Array(BINS);
    for (let i = levels; i <= last; i++) {
      // p: hist[0, i) with the clipped tail added to its last bin. q: hist[0, i) (without the tail) merged
      // into `levels` bins, each spread evenly back over its non-empty bins. As onnxruntime's and TensorRT's.
      const merged = Math.floor(i / levels);
      for (let j = 0; j < levels; j++) {
        const start = j * merged;
        const end = j === levels - 1 ? i : start + merged;
        let sum = 0;
        let nonEmpty = 0;
        for (let k = start; k < end; k++) {
          sum += hist[k];
          if (hist[k] !== 0 || (k === i - 1 && suffix[i] > 0)) nonEmpty++;
        }
        for (let k = start; k < end; k++) q[k] = hist[k] !== 0 || (k === i - 1 && suffix[i] > 0) ? sum / nonEmpty : 0;
      }
      const pTotal = suffix[0];
      const qTotal = suffix[0] - suffix[i];
      let kl = 0;
      for (let k = 0; k < i; k++) {
        const pk = (hist[k] + (k === i - 1 ? suffix[i] : 0)) / pTotal;
        if (pk === 0) continue;
        // A bin p has and q lacks gets q's smallest share (onnxruntime smooths with an epsilon the same way).
        const qk = Math.max(q[k] / qTotal, SMOOTHING / pTotal);
        kl += pk * Math.log(pk / qk);
      }
      if (kl < bestKl) {
        bestKl = kl;
        best = i;
      }
    }
    return best * this.width;
  }
}

/** An fp32 model that also outputs every tensor in `targets` (shapes left to onnxruntime). */
export function withTapOutputs(model: OnnxModel, targets: readonly string[]): OnnxModel {
  const taps = targets.map((name) => ({ name, elemType: TensorDataType.FLOAT }));
  return { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...taps] } };
}

/**
 * Runs the fp32 `model` on each batch (NHWC float32, preprocessed) and gathers the
 * statistics of every tensor in `targets`.
 */
export async function collectStats(
  model: OnnxModel,
  targets: readonly string[],
  batches: AsyncIterable<{ input: Float32Array; n: number; size: number }>,
  threads: number,
): Promise<Map<string, TensorStats>> {
  const session = await ort.InferenceSession.create(
    encodeModel(withTapOutputs(model, targets)),
    sessionOptions(threads),
  );
  const stats = new Map(targets.map((t) => [t, new TensorStats()]));
  try {
    for await (const { input, n, size } of batches) {
      const x = new ort.Tensor('float32', input.subarray(0, n * size * size * 3), [n, size, size, 3]);
      const out = await session.run({ [ONNX_INPUT_NAME]: x }, [...targets]);
      for (const t of targets) stats.get(t)!.add(out[t].data as Float32Array);
    }
  } finally {
    await session.release();
  }
  return stats;
}

/** Every target's range by `method`. */
export function rangesFor(stats: ReadonlyMap<string, TensorStats>, method: CalibrationMethod): Map<string, Range> {
  return new Map([...stats].map(([name, s]) => [name, s.range(method)]));
}
