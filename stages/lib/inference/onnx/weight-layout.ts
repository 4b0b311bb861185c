/**
 * Rearranges TF/Keras (channels-last) weight tensors into ONNX (channels-first)
 * layouts, and folds an inference-mode batch normalization into them.
 */

/** Conv2D kernel [kh, kw, in, out] → ONNX Conv weight [out, in, kh, kw]. */
export function convKernelToOihw(k: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++) {
        const src = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = k[src + o];
      }
  return out;
}

/**
 * DepthwiseConv2D kernel [kh, kw, in, mult] → grouped Conv weight [in·mult, 1, kh, kw]
 * (group = in). TF orders output channels as c·mult + m, which is exactly ONNX's group order.
 */
export function depthwiseKernelToOihw(
  k: Float32Array,
  kh: number,
  kw: number,
  cin: number,
  mult: number,
): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < cin; c++)
        for (let m = 0; m < mult; m++) out[((c * mult + m) * kh + y) * kw + x] = k[((y * kw + x) * cin + c) * mult + m];
  return out;
}

/** Inference batch norm as y = x·scale + shift per channel, computed in float64. */
export interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}

export function batchNormAffine(
  gamma: Float32Array | null,
  beta: Float32Array | null,
  mean: Float32Array,
  variance: Float32Array,
  epsilon: number,
): ChannelAffine {
  const n = mean.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    // Math.fround(epsilon): TF.js adds epsilon to a float32 variance in float32.
    const s = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + Math.fround(epsilon));
    scale[c] = s;
    shift[c] = (beta ? beta[c] : 0) - mean[c] * s;
  }
  return { scale, shift };
}

/**
 * Folds y = affine(conv(x) + bias) into the conv: W'[o] = W[o]·scale[o],
 * b'[o] = bias[o]·scale[o] + shift[o]. `weightOihw` has output channels outermost.
 */
export function foldAffineIntoConv(
  weightOihw: Float32Array,
  bias: Float32Array | null,
  affine: ChannelAffine,
): { weight: Float32Array; bias: Float32Array } {
  const cout = affine.scale.length;
  const perOut = weightOihw.length / cout;
  if (!Number.isInteger(perOut))
    throw new RangeError(`weight of ${weightOihw.length} values does not split into ${cout} output channels`);
  const weight = new Float32Array(weightOihw.length);
  const foldedBias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const s = affine.scale[o];
    for (let j = o * perOut; j < (o + 1) * perOut; j++) weight[j] = weightOihw[j] * s;
    foldedBias[o] = (bias ? bias[o] : 0) * s + affine.shift[o];
  }
  return { weight, bias: foldedBias };
}
