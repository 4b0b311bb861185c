/**
 * The frozen backbone on TF.js: the reference implementation of BackboneRunner,
 * and the fallback whenever ONNX is unavailable.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackboneOutput, BackboneRunner } from './backbone-runner.ts';

export class TfjsRunner implements BackboneRunner {
  readonly engine: string;
  readonly inputSize: number;

  /** `backbone`'s single output must be the cut layer's NHWC feature map. The runner owns it and disposes it. */
  constructor(private readonly backbone: tf.LayersModel) {
    const out = backbone.outputs[0].shape;
    if (backbone.outputs.length !== 1 || out.length !== 4) {
      throw new Error(
        `TfjsRunner needs a backbone with one 4-D output; got [${backbone.outputs.map((o) => o.shape).join('], [')}]`,
      );
    }
    const [, h, w] = backbone.inputs[0].shape;
    if (typeof h !== 'number' || h !== w)
      throw new Error(`TfjsRunner needs a fixed square input; got [${backbone.inputs[0].shape}]`);
    this.inputSize = h;
    this.engine = tf.getBackend();
  }

  async run(input: Float32Array, n: number, opts: { maps?: boolean } = {}): Promise<BackboneOutput> {
    const s = this.inputSize;
    if (input.length !== n * s * s * 3)
      throw new Error(`TfjsRunner: input holds ${input.length} values, expected ${n}×${s}×${s}×3`);
    const [maps, pooled] = tf.tidy((): [tf.Tensor4D, tf.Tensor] => {
      const x = tf.tensor4d(input, [n, s, s, 3]);
      const m = this.backbone.predict(x) as tf.Tensor4D;
      return [m, tf.mean(m, [1, 2])];
    });
    try {
      const [, mapHeight, mapWidth, channels] = maps.shape;
      const result: BackboneOutput = { pooled: (await pooled.data()) as Float32Array, channels };
      if (opts.maps) {
        result.maps = (await maps.data()) as Float32Array;
        result.mapHeight = mapHeight;
        result.mapWidth = mapWidth;
      }
      return result;
    } finally {
      maps.dispose();
      pooled.dispose();
    }
  }

  async dispose(): Promise<void> {
    this.backbone.dispose();
  }
}
