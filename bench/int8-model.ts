/**
 * What the int8 benchmarks share: this CPU's integer SIMD named from
 * /proc/cpuinfo, and an fp32 graph's int8 (QDQ) version calibrated on photos
 * the way build-model does it (stages/lib/inference/int8-backbone.ts).
 */
import { readFileSync } from 'node:fs';
import { imageBatches, toTensorInput, type Preprocess } from '../stages/lib/data/images.ts';
import { calibrate } from '../stages/lib/inference/int8-backbone.ts';
import type { TensorStats } from '../stages/lib/inference/onnx/calibration.ts';
import type { OnnxModel } from '../stages/lib/inference/onnx/protobuf.ts';

/** "AVX-512 VNNI" / "AVX2 + AVX-VNNI" / "AVX2" …: what onnxruntime's u8×s8 kernels can use here. */
export function simdName(): string {
  let info: string;
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return 'unknown (no /proc/cpuinfo)';
  }
  const flags = new Set((info.match(/^flags\s*:\s*(.*)$/m)?.[1] ?? '').split(/\s+/));
  const parts: string[] = [];
  if (flags.has('avx512f')) parts.push(flags.has('avx512_vnni') ? 'AVX-512 VNNI' : 'AVX-512 (no VNNI)');
  else if (flags.has('avx2')) parts.push('AVX2');
  if (flags.has('avx_vnni')) parts.push('AVX-VNNI');
  if (parts.length === 0) parts.push('no AVX2');
  return `${parts.join(' + ')} (flags: ${[...flags]
    .filter((f) => /^avx2$|^avx512|^avx_vnni/.test(f))
    .sort()
    .join(' ')})`;
}

/** Calibration statistics of `fp32` over `photos`, decoded and preprocessed as the features stage does. */
export async function calibrationStats(
  fp32: OnnxModel,
  photos: readonly { path: string }[],
  size: number,
  preprocess: Preprocess,
  threads: number,
): Promise<Map<string, TensorStats>> {
  async function* batches() {
    for await (const b of imageBatches(photos, { size, batchSize: 2 })) {
      if (b.pixels.length) yield { input: toTensorInput(b.pixels, size, preprocess), n: b.pixels.length, size };
    }
  }
  return calibrate(fp32, batches(), threads);
}
