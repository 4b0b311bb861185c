/**
 * Choosing what runs the frozen backbone (`runtime.inference: auto | onnx | tfjs`,
 * `runtime.device: auto | cpu | webgpu | cuda`, `runtime.batch_size`) and reading what
 * build-model wrote about it.
 *
 * auto = onnxruntime when build-model exported `backbone.onnx`, else TF.js with a
 * warning saying why (the export's recorded failure, or onnxruntime failing to load).
 * The device (./device.ts) applies to onnxruntime; a GPU device needs the export.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackboneRunner } from './backbone-runner.ts';
import type { Int8Info } from './int8-backbone.ts';
import { readShared, setupBackend, threadCount } from './backend.ts';
import { openOnDevice, parseDeviceChoice, type Device } from './device.ts';
import type { INFERENCE_CHOICES, PRECISION_CHOICES, PREPROCESS_NAMES } from '../stage/shared-params.ts';
import type { Preprocess } from '../data/images.ts';
import type { ParamReader } from '../stage/params.ts';
import { loadModel } from '../model/model-io.ts';
import { TfjsRunner } from './tfjs-runner.ts';

export const BACKBONE_ONNX = 'backbone.onnx';
export const BACKBONE_INFO = 'info.json';
/** The calibrated QDQ model and its calibration record (runtime.precision int8, see ./int8-backbone.ts). */
export const BACKBONE_INT8_ONNX = 'backbone.int8.onnx';
export const CALIBRATION_FILE = 'calibration.json';

/** build-model's description of the frozen base (backbone/info.json). */
export interface BackboneInfo {
  backbone: string;
  cutLayer: string;
  inputSize: number;
  preprocess: Preprocess;
  featureDim: number;
  mapHeight: number;
  mapWidth: number;
  params: { base: number; head: number; trainable: number; total: number };
  onnx: { exported: true; file: string; bytes: number } | { exported: false; reason: string };
  /** The calibrated QDQ model, written when build-model ran with runtime.precision int8. */
  int8?: Int8Info;
  tfjs: string;
}

export type InferenceChoice = (typeof INFERENCE_CHOICES)[number];

/** Every name in PREPROCESS_NAMES (the declared choices of `model.preprocess`) → what it means. */
const PREPROCESS: Record<(typeof PREPROCESS_NAMES)[number], Preprocess> = {
  tf: 'tf',
  mobilenet: 'tf',
  xception: 'tf',
  unit: 'unit',
  darknet: 'unit',
  caffe: 'caffe',
};

/** `model.preprocess`: tf (x/127.5−1; aliases mobilenet, xception), unit (x/255; alias darknet), caffe. */
export function parsePreprocess(value: unknown): Preprocess {
  const key = value ?? 'tf';
  const p = (PREPROCESS as Record<string, Preprocess>)[typeof key === 'string' ? key : JSON.stringify(key)];
  if (!p)
    throw new Error(`model.preprocess must be one of ${Object.keys(PREPROCESS).join(', ')}; got '${String(value)}'`);
  return p;
}

export type Precision = (typeof PRECISION_CHOICES)[number];

/** `runtime.precision`, by its declared rule (stages/lib/stage/shared-params.ts). */
export function parsePrecision(value: unknown): Precision {
  return readShared('runtime.precision', value) as Precision;
}

/** `runtime.inference`, by its declared rule (stages/lib/stage/shared-params.ts). */
export function parseInferenceChoice(value: unknown): InferenceChoice {
  return readShared('runtime.inference', value) as InferenceChoice;
}

export async function readBackboneInfo(backboneDir: string): Promise<BackboneInfo> {
  const file = path.join(backboneDir, BACKBONE_INFO);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BackboneInfo;
  } catch (err) {
    throw new Error(`cannot read ${file} (written by build-model): ${(err as Error).message}`, { cause: err });
  }
}

/** `runtime.batch_size: auto` on the CPU (best on 2 cores, see docs/benchmarks.md#backbone-inference) and on a hardware GPU (fills a large card). */
export const CPU_BATCH_SIZE = 16;
export const GPU_BATCH_SIZE = 128;

/** `runtime.batch_size`: a positive integer, or auto (unset) = the device's default. */
export function parseBatchSize(value: unknown, device: Device, softwareAdapter: boolean): number {
  if (value === undefined || value === null || value === '' || value === 'auto') {
    return device === 'cpu' || softwareAdapter ? CPU_BATCH_SIZE : GPU_BATCH_SIZE;
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`runtime.batch_size must be auto or an integer ≥ 1, got ${JSON.stringify(value)}`);
  return n;
}

/** A backbone runner with the device it runs on and the batch size to feed it. */
export interface OpenBackbone extends BackboneRunner {
  /** onnxruntime's provider; 'cpu' for TF.js too (its backend is in `engine`). */
  readonly device: Device;
  readonly batchSize: number;
}

function withBatch(runner: BackboneRunner, device: Device, batchSize: number): OpenBackbone {
  return {
    engine: runner.engine,
    inputSize: runner.inputSize,
    device,
    batchSize,
    run: (input, n, opts) => runner.run(input, n, opts),
    dispose: () => runner.dispose(),
  };
}

interface Logger {
  log: (message: string) => void;
  warn: (message: string) => void;
}

/**
 * Opens the runner `runtime.inference` and `runtime.device` ask for on build-model's backbone folder; logs which one runs.
 * `precision` (runtime.precision of the stages that declare it; visualize's CAMs stay fp32): int8 opens
 * build-model's calibrated QDQ model on onnxruntime's CPU provider.
 */
export async function openBackboneRunner(
  backboneDir: string,
  /** The stage's param reader: every read goes through its declared-key check. */
  params: Pick<ParamReader, 'value'>,
  logger: Logger,
  opts: { precision?: Precision } = {},
): Promise<OpenBackbone> {
  const choice = parseInferenceChoice(params.value('runtime.inference'));
  const device = parseDeviceChoice(params.value('runtime.device'));
  const batchValue = params.value('runtime.batch_size');
  parseBatchSize(batchValue, 'cpu', false); // a bad value fails before any session opens
  if (opts.precision === 'int8') return openInt8(backboneDir, choice, device, params, batchValue, logger);
  const info = await readBackboneInfo(backboneDir);
  const onnxPath = path.join(backboneDir, BACKBONE_ONNX);
  const hasOnnx = await access(onnxPath).then(
    () => true,
    () => false,
  );
  if (choice !== 'tfjs') {
    if (!hasOnnx) {
      const why = info.onnx.exported ? `${BACKBONE_ONNX} is missing` : `the export failed: ${info.onnx.reason}`;
      if (choice === 'onnx')
        throw new Error(`runtime.inference is onnx but build-model has no ${BACKBONE_ONNX} (${why})`);
      if (device === 'webgpu' || device === 'cuda')
        throw new Error(
          `runtime.device is ${device}, which runs onnxruntime, but build-model has no ${BACKBONE_ONNX} (${why})`,
        );
      logger.warn(`running the backbone on TF.js, not ONNX: ${why}`);
    } else {
      const threads = threadCount(params.value('runtime.threads'));
      const { createOnnxRunner } = await import('./onnx/runner.ts');
      let opened: { value: BackboneRunner; device: Device; software: boolean } | undefined;
      try {
        opened = await openOnDevice(
          device,
          (d) => createOnnxRunner(onnxPath, { inputSize: info.inputSize, threads, device: d }),
          logger,
        );
      } catch (err) {
        // A device asked for by name is never swapped for another engine.
        if (choice === 'onnx' || device === 'webgpu' || device === 'cuda') throw err;
        logger.warn(`running the backbone on TF.js, not ONNX: onnxruntime failed to start: ${(err as Error).message}`);
      }
      if (opened) {
        const batchSize = parseBatchSize(batchValue, opened.device, opened.software);
        logger.log(
          `backbone inference: onnxruntime-node on ${opened.device}, ${opened.device === 'cpu' ? `${threads} thread(s), ` : ''}batch ${batchSize}`,
        );
        return withBatch(opened.value, opened.device, batchSize);
      }
    }
  } else if (device === 'webgpu' || device === 'cuda') {
    throw new Error(`runtime.device is ${device}, which runs onnxruntime, but runtime.inference is tfjs`);
  }
  await setupBackend(params, logger.log, logger.warn);
  const runner = new TfjsRunner(await loadModel(backboneDir));
  const batchSize = parseBatchSize(batchValue, 'cpu', false);
  logger.log(`backbone inference: TF.js (${runner.engine}), batch ${batchSize}`);
  return withBatch(runner, 'cpu', batchSize);
}

/**
 * runtime.precision int8: build-model's QDQ model on onnxruntime's CPU provider. A GPU device is refused rather
 * than run in fp32: onnxruntime's GPU providers have no int8 kernels for it, and a silent fp32 run would
 * answer a different question than the one asked (the int8 features' speed and score).
 */
async function openInt8(
  backboneDir: string,
  choice: InferenceChoice,
  device: ReturnType<typeof parseDeviceChoice>,
  params: Pick<ParamReader, 'value'>,
  batchValue: unknown,
  logger: Logger,
): Promise<OpenBackbone> {
  if (device === 'webgpu' || device === 'cuda') {
    throw new Error(
      `runtime.precision int8 runs on onnxruntime's CPU provider only, but runtime.device is ${device}: set runtime.device to cpu (or auto), or runtime.precision to fp32`,
    );
  }
  if (choice === 'tfjs')
    throw new Error(
      'runtime.precision int8 runs on onnxruntime, but runtime.inference is tfjs: set runtime.inference to onnx (or auto), or runtime.precision to fp32',
    );
  const info = await readBackboneInfo(backboneDir);
  const file = path.join(backboneDir, BACKBONE_INT8_ONNX);
  const present = await access(file).then(
    () => true,
    () => false,
  );
  if (!info.int8 || !present) {
    throw new Error(
      `runtime.precision is int8 but build-model wrote no ${BACKBONE_INT8_ONNX} in ${backboneDir} (build-model writes it when it runs with runtime.precision int8)`,
    );
  }
  const threads = threadCount(params.value('runtime.threads'));
  const { createOnnxRunner } = await import('./onnx/runner.ts');
  const runner = await createOnnxRunner(file, { inputSize: info.inputSize, threads, device: 'cpu', precision: 'int8' });
  const batchSize = parseBatchSize(batchValue, 'cpu', false);
  logger.log(
    `backbone inference: onnxruntime-node on cpu${device === 'auto' ? ' (auto: int8 runs on the CPU provider)' : ''}, int8 (${info.int8.quantizedConvs} int8 convolutions, ` +
      `calibrated by ${info.int8.method} on ${info.int8.images} training images), ${threads} thread(s), batch ${batchSize}`,
  );
  return withBatch(runner, 'cpu', batchSize);
}
