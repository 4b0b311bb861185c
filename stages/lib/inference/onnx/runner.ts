/**
 * The frozen backbone on onnxruntime-node (CPU, WebGPU or CUDA provider): a BackboneRunner
 * over a graph written by `exportToOnnx` (input `input` NHWC, outputs `maps` and `pooled`).
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { BackboneOutput, BackboneRunner } from '../backbone-runner.ts';
import type { Device } from '../device.ts';
import { ONNX_INPUT_NAME, ONNX_MAPS_OUTPUT, ONNX_POOLED_OUTPUT } from './export.ts';

export interface OnnxRunnerOptions {
  inputSize: number;
  /** Intra-op threads; default: every core (os.availableParallelism()). */
  threads?: number;
  /** Let idle intra-op threads spin (onnxruntime's default). Off by default: see sessionOptions. */
  spinWait?: boolean;
  /** Execution provider; default cpu. Which one to use is decided in ../device.ts. */
  device?: Device;
  /** int8: the model is build-model's QDQ graph (CPU only); named in `engine`, so feature store keys differ. */
  precision?: 'fp32' | 'int8';
}

/** Session options that let onnxruntime's CPU kernels run at full speed (measured in bench/inference.ts). */
export function sessionOptions(
  threads: number,
  spinWait = false,
  device: Device = 'cpu',
): ort.InferenceSession.SessionOptions {
  if (device !== 'cpu') {
    return {
      executionProviders: [device],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // A node the GPU provider cannot take fails the session instead of running on the CPU unnoticed.
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    };
  }
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all', // fuses Conv+Relu/Clip/Add and switches to the blocked NCHWc layout
    executionMode: 'sequential', // a backbone is a chain: parallel execution only adds overhead
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    enableMemPattern: true,
    // Idle pool threads sleep instead of spin-waiting, so the JPEG decoder running
    // alongside (decode overlaps inference) gets the cores between kernels.
    extra: { session: { intra_op: { allow_spinning: spinWait ? '1' : '0' } } },
  };
}

export class OnnxRunner implements BackboneRunner {
  private constructor(
    readonly engine: string,
    private session: ort.InferenceSession | null,
    readonly inputSize: number,
    readonly channels: number,
  ) {}

  static async open(source: string | Uint8Array, opts: OnnxRunnerOptions): Promise<OnnxRunner> {
    const threads = opts.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1)
      throw new RangeError(`onnx threads must be a positive integer, got ${threads}`);
    const device = opts.device ?? 'cpu';
    if (opts.precision === 'int8' && device !== 'cpu')
      throw new Error(`the int8 model runs on onnxruntime's CPU provider only, not ${device}`);
    const options = sessionOptions(threads, opts.spinWait ?? false, device);
    const session =
      typeof source === 'string'
        ? await ort.InferenceSession.create(source, options)
        : await ort.InferenceSession.create(source, options);
    const where = typeof source === 'string' ? source : 'the ONNX model';
    try {
      for (const name of [ONNX_MAPS_OUTPUT, ONNX_POOLED_OUTPUT]) {
        if (!session.outputNames.includes(name))
          throw new Error(`${where} has no output '${name}' (outputs: ${session.outputNames.join(', ')})`);
      }
      if (!session.inputNames.includes(ONNX_INPUT_NAME)) throw new Error(`${where} has no input '${ONNX_INPUT_NAME}'`);
      const meta = session.outputMetadata.find((m) => m.name === ONNX_POOLED_OUTPUT);
      const channels = meta && meta.isTensor ? Number(meta.shape[1]) : NaN;
      if (!Number.isInteger(channels) || channels < 1)
        throw new Error(`${where}: output '${ONNX_POOLED_OUTPUT}' has no fixed channel count`);
      const inMeta = session.inputMetadata.find((m) => m.name === ONNX_INPUT_NAME);
      const side = inMeta && inMeta.isTensor ? inMeta.shape[1] : undefined;
      if (typeof side === 'number' && side !== opts.inputSize) {
        throw new Error(`${where} takes ${side}×${side} images, but inputSize ${opts.inputSize} was given`);
      }
      const engine = opts.precision === 'int8' ? 'onnx-int8' : device === 'cpu' ? 'onnx' : `onnx-${device}`;
      return new OnnxRunner(engine, session, opts.inputSize, channels);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  async run(input: Float32Array, n: number, opts: { maps?: boolean } = {}): Promise<BackboneOutput> {
    if (!this.session) throw new Error('OnnxRunner: run() after dispose()');
    const s = this.inputSize;
    const size = n * s * s * 3;
    if (!Number.isInteger(n) || n < 1 || input.length < size) {
      throw new Error(`OnnxRunner: input holds ${input.length} values, expected ${n}×${s}×${s}×3 = ${size}`);
    }
    const x = new ort.Tensor('float32', input.length === size ? input : input.subarray(0, size), [n, s, s, 3]);
    const fetches = opts.maps ? [ONNX_POOLED_OUTPUT, ONNX_MAPS_OUTPUT] : [ONNX_POOLED_OUTPUT];
    const out = await this.session.run({ [ONNX_INPUT_NAME]: x }, fetches);
    try {
      const pooled = out[ONNX_POOLED_OUTPUT];
      const result: BackboneOutput = { pooled: pooled.data as Float32Array, channels: this.channels };
      if (opts.maps) {
        const maps = out[ONNX_MAPS_OUTPUT];
        result.maps = maps.data as Float32Array;
        result.mapHeight = maps.dims[1];
        result.mapWidth = maps.dims[2];
      }
      return result;
    } finally {
      // CPU tensors own plain JS arrays (returned above); dispose() releases any native handle.
      x.dispose();
    }
  }

  async dispose(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.release();
  }
}

/** Opens `onnxPath` (written by exportToOnnx) as a BackboneRunner. */
export function createOnnxRunner(onnxPath: string, opts: OnnxRunnerOptions): Promise<BackboneRunner> {
  return OnnxRunner.open(onnxPath, opts);
}
