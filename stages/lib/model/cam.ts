/**
 * Class activation maps (Zhou et al. 2016, "Learning Deep Features for
 * Discriminative Localization"): for a GAP → Dense head, the evidence for a
 * class at each position is Σ_k w_k · A_k(x, y) over the cut layer's maps A_k.
 * A single sigmoid unit (two classes) has one weight vector w for the second
 * class ("dog"); the first class's map uses −w. A softmax head has one weight
 * vector per class: its kernel's column.
 */
import type { HeadWeights } from './head.ts';

/** The weights whose CAM shows the evidence for class `label`. */
export function camWeights(head: HeadWeights, label: number): number[] {
  if (!('units' in head)) return label === 1 ? head.kernel : head.kernel.map((w) => -w);
  const { units, kernel } = head;
  if (!(Number.isInteger(label) && label >= 0 && label < units))
    throw new Error(`CAM: class ${label} is not one of the head's ${units}`);
  return Array.from({ length: kernel.length / units }, (_, k) => kernel[k * units + label]);
}

/** Raw CAM [h·w] for one image's maps (NHWC, h × w × channels) and the class weights. */
export function classActivationMap(
  maps: Float32Array,
  height: number,
  width: number,
  weights: ArrayLike<number>,
): Float32Array {
  const channels = weights.length;
  if (maps.length !== height * width * channels) {
    throw new Error(`CAM: maps hold ${maps.length} values, expected ${height}×${width}×${channels}`);
  }
  const cam = new Float32Array(height * width);
  for (let p = 0; p < height * width; p++) {
    let s = 0;
    const base = p * channels;
    for (let k = 0; k < channels; k++) s += weights[k] * maps[base + k];
    cam[p] = s;
  }
  return cam;
}

/** Min–max normalised to [0, 1]; a flat map becomes all zeros. */
export function normalise(cam: Float32Array): Float32Array {
  let min = Infinity;
  let max = -Infinity;
  for (const v of cam) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  const out = new Float32Array(cam.length);
  if (range > 0) for (let i = 0; i < cam.length; i++) out[i] = (cam[i] - min) / range;
  return out;
}

/** Bilinear upsampling (half-pixel centres, edges clamped, as TF's resize with half_pixel_centers). */
export function upsample(
  map: Float32Array,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
): Float32Array {
  const out = new Float32Array(outHeight * outWidth);
  const sy = height / outHeight;
  const sx = width / outWidth;
  for (let y = 0; y < outHeight; y++) {
    const fy = Math.min(height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(height - 1, y0 + 1);
    const dy = fy - y0;
    for (let x = 0; x < outWidth; x++) {
      const fx = Math.min(width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(width - 1, x0 + 1);
      const dx = fx - x0;
      const top = map[y0 * width + x0] * (1 - dx) + map[y0 * width + x1] * dx;
      const bottom = map[y1 * width + x0] * (1 - dx) + map[y1 * width + x1] * dx;
      out[y * outWidth + x] = top * (1 - dy) + bottom * dy;
    }
  }
  return out;
}

/** The whole recipe: CAM for a class, upsampled to the picture and normalised to [0, 1]. */
export function camHeatmap(
  maps: Float32Array,
  mapHeight: number,
  mapWidth: number,
  weights: ArrayLike<number>,
  outSize: number,
): Float32Array {
  const raw = classActivationMap(maps, mapHeight, mapWidth, weights);
  return normalise(upsample(raw, mapHeight, mapWidth, outSize, outSize));
}
