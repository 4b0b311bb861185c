/**
 * How a stage runs the frozen backbone, whatever executes it (TF.js or
 * onnxruntime). Stages pick an implementation once (see `runtime.inference`)
 * and then only see this interface.
 */
export interface BackboneOutput {
  /** Global-average-pooled features, [n, channels] row-major. */
  pooled: Float32Array;
  channels: number;
  /** The cut layer's feature maps, [n, h, w, channels] (NHWC), when asked for (CAM needs them). */
  maps?: Float32Array;
  mapHeight?: number;
  mapWidth?: number;
}

export interface BackboneRunner {
  /** 'onnx' (CPU), 'onnx-webgpu', 'onnx-cuda' or a TF.js backend name ('wasm', 'cpu', 'tensorflow'), for logs and metrics. */
  readonly engine: string;
  /** Square input side in pixels (e.g. 224, 299). */
  readonly inputSize: number;
  /**
   * Run one batch. `input` is NHWC float32, already preprocessed (scaled to the
   * backbone's range), `n` images of inputSize × inputSize × 3.
   */
  run(input: Float32Array, n: number, opts?: { maps?: boolean }): Promise<BackboneOutput>;
  dispose(): Promise<void>;
}
