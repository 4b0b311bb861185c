/**
 * build-model's int8 backbone (`runtime.precision: int8`): the fp32 ONNX graph,
 * calibrated on a seeded sample of the TRAINING list (never validation or test)
 * and rewritten as a QDQ graph (./onnx/quantize.ts) that onnxruntime's CPU
 * provider runs on its int8 kernels. Writes backbone.int8.onnx and
 * calibration.json (the sample and every tensor's range) next to backbone.onnx.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LabelledImage } from '../data/dataset.ts';
import { imageBatches, toTensorInput, type Preprocess } from '../data/images.ts';
import { createRng, shuffle } from '../data/random.ts';
import { projectRelative } from '../stage/format.ts';
import { collectStats, PERCENTILE, rangesFor, type CalibrationMethod, type TensorStats } from './onnx/calibration.ts';
import { encodeModel, type OnnxModel } from './onnx/protobuf.ts';
import { calibrationTargets, quantizeModel } from './onnx/quantize.ts';
import { BACKBONE_INT8_ONNX, CALIBRATION_FILE } from './inference.ts';

/** Images per calibration pass: every tapped tensor of a batch is held at once (~85 MB per Xception image: 2 keep build-model well under 2 GiB). */
const CALIBRATION_BATCH = 2;

/** What info.json says of the int8 model (absent when runtime.precision is fp32). */
export interface Int8Info {
  file: string;
  calibration: string;
  method: CalibrationMethod;
  images: number;
  quantizedConvs: number;
  floatConvs: string[];
  bytes: number;
}

export interface Int8Options {
  method: CalibrationMethod;
  images: number;
  seed: number;
  threads: number;
  inputSize: number;
  preprocess: Preprocess;
  /** Paths in calibration.json are written relative to this folder (the project root). */
  root: string;
}

/** Every calibration target's statistics over `batches` (NHWC, preprocessed), from which each method's ranges follow. */
export function calibrate(
  fp32: OnnxModel,
  batches: AsyncIterable<{ input: Float32Array; n: number; size: number }>,
  threads: number,
): Promise<Map<string, TensorStats>> {
  return collectStats(fp32, calibrationTargets(fp32), batches, threads);
}

/** The calibration sample: `n` training images drawn by `seed`, in draw order. */
export function calibrationSample<T>(trainList: readonly T[], n: number, seed: number): T[] {
  return shuffle(trainList, createRng(seed)).slice(0, n);
}

export async function writeInt8Backbone(
  fp32: OnnxModel,
  trainList: readonly LabelledImage[],
  outDir: string,
  opts: Int8Options,
  log: (message: string) => void,
): Promise<Int8Info> {
  if (trainList.length === 0)
    throw new Error('runtime.precision is int8 but the training list is empty: nothing to calibrate on');
  const sample = calibrationSample(trainList, opts.images, opts.seed);
  const skipped: { path: string; reason: string }[] = [];
  const rel = (p: string) => projectRelative(opts.root, p);
  async function* batches() {
    for await (const b of imageBatches(sample, { size: opts.inputSize, batchSize: CALIBRATION_BATCH })) {
      skipped.push(...b.skipped.map((s) => ({ path: rel(s.item.path), reason: s.reason })));
      if (b.pixels.length > 0)
        yield {
          input: toTensorInput(b.pixels, opts.inputSize, opts.preprocess),
          n: b.pixels.length,
          size: opts.inputSize,
        };
    }
  }
  const stats = await calibrate(fp32, batches(), opts.threads);
  const used = sample.length - skipped.length;
  if (used === 0)
    throw new Error(`int8 calibration: none of the ${sample.length} sampled training images could be decoded`);
  const targets = [...stats.keys()];
  const ranges = rangesFor(stats, opts.method);
  const { model, summary } = quantizeModel(fp32, ranges);
  const bytes = encodeModel(model);
  await writeFile(path.join(outDir, BACKBONE_INT8_ONNX), bytes);
  const calibration = {
    method: opts.method,
    ...(opts.method === 'percentile' ? { percentile: PERCENTILE } : {}),
    seed: opts.seed,
    images: used,
    sample: sample.map((s) => rel(s.path)),
    skipped,
    quantizedConvs: summary.quantizedConvs,
    floatConvs: summary.floatConvs,
    // Per tensor: the observed [min, max] and the range the u8 quantization uses.
    tensors: Object.fromEntries(
      targets.map((t) => [t, { min: stats.get(t)!.min, max: stats.get(t)!.max, range: ranges.get(t) }]),
    ),
  };
  await writeFile(path.join(outDir, CALIBRATION_FILE), JSON.stringify(calibration, null, 2) + '\n');
  log(
    `int8 export: ${BACKBONE_INT8_ONNX} (${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB), ${summary.quantizedConvs} convolutions int8, ` +
      `${summary.floatConvs.length} float (${summary.floatConvs.join(', ') || 'none'}); ${targets.length} activations calibrated (${opts.method}) on ${used} training images`,
  );
  return {
    file: BACKBONE_INT8_ONNX,
    calibration: CALIBRATION_FILE,
    method: opts.method,
    images: used,
    quantizedConvs: summary.quantizedConvs,
    floatConvs: summary.floatConvs,
    bytes: bytes.byteLength,
  };
}
