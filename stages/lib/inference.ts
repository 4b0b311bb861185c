/**
 * Choosing what runs the frozen backbone (`runtime.inference: auto | onnx | tfjs`)
 * and reading what build-model wrote about it.
 *
 * auto = onnxruntime when build-model exported `backbone.onnx`, else TF.js with a
 * warning saying why (the export's recorded failure, or onnxruntime failing to load).
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackboneRunner } from './backbone-runner.ts';
import { readShared, setupBackend, threadCount } from './backend.ts';
import type { INFERENCE_CHOICES, PREPROCESS_NAMES } from './shared-params.ts';
import type { Preprocess } from './images.ts';
import { loadModel } from './model-io.ts';
import { TfjsRunner } from './tfjs-runner.ts';

export const BACKBONE_ONNX = 'backbone.onnx';
export const BACKBONE_INFO = 'info.json';

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
  const p = (PREPROCESS as Record<string, Preprocess>)[String(value ?? 'tf')];
  if (!p) throw new Error(`model.preprocess must be one of ${Object.keys(PREPROCESS).join(', ')}; got '${String(value)}'`);
  return p;
}

/** `runtime.inference`, by its declared rule (stages/lib/shared-params.ts). */
export function parseInferenceChoice(value: unknown): InferenceChoice {
  return readShared('runtime.inference', value) as InferenceChoice;
}

export async function readBackboneInfo(backboneDir: string): Promise<BackboneInfo> {
  const file = path.join(backboneDir, BACKBONE_INFO);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BackboneInfo;
  } catch (err) {
    throw new Error(`cannot read ${file} (written by build-model): ${(err as Error).message}`);
  }
}

interface Logger {
  log(message: string): void;
  warn(message: string): void;
}

/** Opens the runner `runtime.inference` asks for on build-model's backbone folder; logs which one runs. */
export async function openBackboneRunner(
  backboneDir: string,
  params: Readonly<Record<string, unknown>>,
  logger: Logger,
): Promise<BackboneRunner> {
  const choice = parseInferenceChoice(params['runtime.inference']);
  const info = await readBackboneInfo(backboneDir);
  const onnxPath = path.join(backboneDir, BACKBONE_ONNX);
  const hasOnnx = await access(onnxPath).then(
    () => true,
    () => false,
  );
  if (choice !== 'tfjs') {
    if (!hasOnnx) {
      const why = info.onnx.exported ? `${BACKBONE_ONNX} is missing` : `the export failed: ${info.onnx.reason}`;
      if (choice === 'onnx') throw new Error(`runtime.inference is onnx but build-model has no ${BACKBONE_ONNX} (${why})`);
      logger.warn(`running the backbone on TF.js, not ONNX: ${why}`);
    } else {
      try {
        const threads = threadCount(params['runtime.threads']);
        const { createOnnxRunner } = await import('./onnx/runner.ts');
        const runner = await createOnnxRunner(onnxPath, { inputSize: info.inputSize, threads });
        logger.log(`backbone inference: onnxruntime-node, ${threads} thread(s)`);
        return runner;
      } catch (err) {
        if (choice === 'onnx') throw err;
        logger.warn(`running the backbone on TF.js, not ONNX: onnxruntime failed to start: ${(err as Error).message}`);
      }
    }
  }
  await setupBackend(params, logger.log, logger.warn);
  const runner = new TfjsRunner(await loadModel(backboneDir));
  logger.log(`backbone inference: TF.js (${runner.engine})`);
  return runner;
}
