/**
 * TensorFlow's `same` padding as explicit begin/end pads. TF pads
 * total = max((ceil(in/stride) - 1)·stride + effectiveKernel − in, 0) and puts
 * the odd pixel at the END (ONNX's SAME_UPPER). Valid padding is no padding.
 */
export function tfSamePads(inSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effectiveKernel = (kernel - 1) * dilation + 1;
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max((outSize - 1) * stride + effectiveKernel - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** TF output size along one axis for `same` / `valid` padding. */
export function tfOutputSize(
  inSize: number,
  kernel: number,
  stride: number,
  padding: 'same' | 'valid',
  dilation = 1,
): number {
  if (padding === 'same') return Math.ceil(inSize / stride);
  const effectiveKernel = (kernel - 1) * dilation + 1;
  return Math.floor((inSize - effectiveKernel) / stride) + 1;
}
