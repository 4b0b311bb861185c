/**
 * Image augmentation with the semantics of Keras 2.0.x `ImageDataGenerator`
 * (keras/preprocessing/image.py, `random_transform`: the version the notebook
 * this job follows was written for), on the raw `size × size × 3` rasters that
 * `images.ts` produces.
 *
 * What the keys mean (Keras 2.0):
 * - `rotation_range` (DEGREES): angle θ drawn from U(−r, r).
 * - `height_shift_range`, `width_shift_range` (fraction of the side): tx (rows)
 *   from U(−r, r)·height, ty (columns) from U(−r, r)·width. Only fractions in
 *   [0, 1) are accepted (later Keras also takes pixel counts; we do not).
 * - `shear_range` (RADIANS, as in Keras 2.0; Keras ≥ 2.2 reads degrees): shear
 *   angle from U(−r, r). The notebook's 0.2 is about 11.5°. `shear_degrees` is
 *   the same in degrees, for those who think in them (give one or the other).
 * - `zoom_range`: a number z gives [1−z, 1+z]; or [lo, hi]. zx (rows) and zy
 *   (columns) are drawn independently. A factor above 1 samples a larger area,
 *   so the picture gets SMALLER (zooms out); below 1 it zooms in.
 * - `horizontal_flip`, `vertical_flip`: each applied with probability ½ (an exact
 *   mirror of columns / rows, after the affine warp, as Keras does).
 * - `fill_mode` for points sampled outside the image: 'nearest' (edge pixel),
 *   'constant' (`cval`), 'reflect' (d c b a | a b c d | d c b a, scipy's), 'wrap'.
 * - `interpolation`: 'nearest' (Keras 2.0: scipy `affine_transform` with
 *   order=0) or 'bilinear' (order=1, what keras-preprocessing later defaulted to).
 * Plus pipeline keys: `copies` (augmented versions per training image) and `seed`.
 *
 * Geometry, exactly Keras 2.0's: in (row, column) coordinates, M = R·T·Sh·Z with
 *   R = [cos θ, −sin θ; sin θ, cos θ], T = translation (tx, ty),
 *   Sh = [1, −sin s; 0, cos s], Z = diag(zx, zy),
 * moved to the centre o = side/2 + 0.5 (Keras' `transform_matrix_offset_center`;
 * not the pixel centre (side−1)/2, which we keep for faithfulness), and applied
 * like scipy's `affine_transform`: output pixel (r, c) samples the input at
 * M·(r, c). So a positive tx samples below and the content moves UP, and a
 * positive θ turns the content clockwise on screen.
 */
import { checkParam, StageUserError } from 'pipeline-ml-engine';
import augmentRules, { type FILL_MODES, type INTERPOLATIONS } from '../../augment-config.params.ts';
import type { Rng } from './random.ts';

export type FillMode = (typeof FILL_MODES)[number];
export type Interpolation = (typeof INTERPOLATIONS)[number];

export interface AugmentConfig {
  /** Degrees. */
  rotation_range: number;
  width_shift_range: number;
  height_shift_range: number;
  /** Radians (Keras 2.0); `shear_degrees` in the params resolves to this. */
  shear_range: number;
  zoom_range: [number, number];
  horizontal_flip: boolean;
  vertical_flip: boolean;
  fill_mode: FillMode;
  cval: number;
  interpolation: Interpolation;
  /** Augmented versions per training image; each epoch trains on one of the 1 + copies (0 = originals only). */
  copies: number;
  seed: number;
}

/** Every key's declared default (stages/augment-config.params.ts); no zoom. */
export const DEFAULT_AUGMENT_CONFIG: Readonly<AugmentConfig> = Object.freeze({
  ...(Object.fromEntries(
    Object.entries(augmentRules)
      .filter(([key]) => key !== 'augment.shear_degrees' && key !== 'augment.zoom_range') // resolved into shear_range; a pair below
      .map(([key, rule]) => [key.slice('augment.'.length), rule.default]),
  ) as Omit<AugmentConfig, 'zoom_range'>),
  zoom_range: [1, 1] as [number, number],
});

/**
 * One random draw: what to do to one image, in Keras 2.0's names and axes
 * (x = rows, y = columns). Shifts are fractions of the side, so a transform fits any size.
 */
export interface Transform {
  /** Rotation, degrees. */
  theta: number;
  /** Shift along rows (fraction of the height); positive samples below: the content moves up. */
  tx: number;
  /** Shift along columns (fraction of the width); positive samples to the right: the content moves left. */
  ty: number;
  /** Shear angle, radians. */
  shear: number;
  /** Zoom factors along rows (zx) and columns (zy); 1 = none, > 1 zooms out. */
  zx: number;
  zy: number;
  flipHorizontal: boolean;
  flipVertical: boolean;
}

export const IDENTITY_TRANSFORM: Readonly<Transform> = Object.freeze({
  theta: 0,
  tx: 0,
  ty: 0,
  shear: 0,
  zx: 1,
  zy: 1,
  flipHorizontal: false,
  flipVertical: false,
});

/** Bad `augment` values: the user's to fix, shown without a stack trace. */
export class AugmentConfigError extends StageUserError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0] : `invalid augment config:\n  - ${problems.join('\n  - ')}`);
    this.name = 'AugmentConfigError';
    this.problems = problems;
  }
}

/** `shear_degrees` is accepted in the params and resolved into `shear_range` (radians). */
const KNOWN_KEYS = [...Object.keys(DEFAULT_AUGMENT_CONFIG), 'shear_degrees'];
/** Keras ImageDataGenerator options we knowingly do not implement, to say so rather than "unknown". */
const KERAS_UNSUPPORTED = [
  'featurewise_center',
  'samplewise_center',
  'featurewise_std_normalization',
  'samplewise_std_normalization',
  'zca_whitening',
  'zca_epsilon',
  'brightness_range',
  'channel_shift_range',
  'rescale',
  'preprocessing_function',
  'data_format',
  'validation_split',
  'dtype',
];

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(key.toLowerCase(), c);
    if (dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

const show = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(show).join(', ')}]` : String(v);

/**
 * Check a raw `augment` params subtree and fill in defaults. Throws an
 * `AugmentConfigError` listing every problem, each naming the key and its
 * allowed range, e.g. `augment.zoom_range must be in [0, 1), got 1.5`.
 * `undefined`/`null` means "no augmentation" (all defaults).
 */
export function validateAugmentConfig(raw: unknown, prefix = 'augment'): AugmentConfig {
  if (raw === undefined || raw === null) return { ...DEFAULT_AUGMENT_CONFIG, zoom_range: [1, 1] };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new AugmentConfigError([`${prefix} must be a mapping of augmentation keys, got ${show(raw)}`]);
  }
  const input = raw as Record<string, unknown>;
  const problems: string[] = [];
  const cfg: AugmentConfig = { ...DEFAULT_AUGMENT_CONFIG, zoom_range: [1, 1] };

  for (const key of Object.keys(input)) {
    if (KNOWN_KEYS.includes(key)) continue;
    if (KERAS_UNSUPPORTED.includes(key)) {
      problems.push(
        `${prefix}.${key} is a Keras ImageDataGenerator option this pipeline does not implement (supported: ${KNOWN_KEYS.join(', ')})`,
      );
      continue;
    }
    const guess = closest(key, KNOWN_KEYS);
    problems.push(
      `${prefix}.${key} is not a known key${guess ? ` (did you mean ${guess}?)` : ''}; known keys: ${KNOWN_KEYS.join(', ')}`,
    );
  }

  const has = (key: string) => input[key] !== undefined && input[key] !== null;
  // Every key but zoom_range and the shear by its declared rule.
  for (const [declared, rule] of Object.entries(augmentRules)) {
    const key = declared.slice('augment.'.length);
    if (!has(key) || key === 'shear_range' || key === 'shear_degrees' || key === 'zoom_range') continue;
    const checked = checkParam(`${prefix}.${key}`, rule, input[key]);
    if (checked.ok) (cfg as unknown as Record<string, unknown>)[key] = checked.value;
    else problems.push(checked.message);
  }
  // The shear has a unit to explain: radians as in Keras 2.0, or the explicit shear_degrees.
  if (has('shear_range')) {
    const v = input['shear_range'];
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < Math.PI / 2)) {
      const degreesHint =
        typeof v === 'number' && v >= Math.PI / 2 && v < 90 ? ` (for ${v}° write shear_degrees: ${v})` : '';
      problems.push(
        `${prefix}.shear_range is in radians as in Keras 2.0 and must be in [0, π/2), got ${show(v)}${degreesHint}`,
      );
    } else cfg.shear_range = v;
  }
  if (has('shear_degrees')) {
    const v = input['shear_degrees'];
    if (has('shear_range'))
      problems.push(`${prefix}.shear_degrees and ${prefix}.shear_range both give the shear angle; keep one`);
    else if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 90))
      problems.push(`${prefix}.shear_degrees must be in [0, 90), got ${show(v)}`);
    else cfg.shear_range = (v * Math.PI) / 180;
  }

  if (has('zoom_range')) {
    const v = input['zoom_range'];
    if (typeof v === 'number') {
      if (!(Number.isFinite(v) && v >= 0 && v < 1))
        problems.push(
          `${prefix}.zoom_range must be in [0, 1) (or a pair [lo, hi] with 0 < lo ≤ hi ≤ 10), got ${show(v)}`,
        );
      else cfg.zoom_range = [1 - v, 1 + v];
    } else if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      const [lo, hi] = v as [number, number];
      if (!(lo > 0 && lo <= hi && hi <= 10))
        problems.push(`${prefix}.zoom_range as a pair must satisfy 0 < lo ≤ hi ≤ 10, got ${show(v)}`);
      else cfg.zoom_range = [lo, hi];
    } else {
      problems.push(`${prefix}.zoom_range must be a number in [0, 1) or a pair [lo, hi], got ${show(v)}`);
    }
  }

  if (problems.length > 0) throw new AugmentConfigError(problems);
  return cfg;
}

/** True when the config can never change an image (then augmented copies would be duplicates). */
export function isIdentityConfig(cfg: AugmentConfig): boolean {
  return (
    cfg.rotation_range === 0 &&
    cfg.width_shift_range === 0 &&
    cfg.height_shift_range === 0 &&
    cfg.shear_range === 0 &&
    cfg.zoom_range[0] === 1 &&
    cfg.zoom_range[1] === 1 &&
    !cfg.horizontal_flip &&
    !cfg.vertical_flip
  );
}

/**
 * Draw one transform. Always consumes exactly 8 numbers from `rng`, so turning
 * one option on or off does not change the draws of the others.
 */
export function sampleTransform(cfg: AugmentConfig, rng: Rng): Transform {
  const u = (r: number) => (2 * rng() - 1) * r;
  // Keras 2.0's order of draws: θ, tx (rows), ty (columns), shear, zx, zy, flips.
  const theta = u(cfg.rotation_range);
  const tx = u(cfg.height_shift_range);
  const ty = u(cfg.width_shift_range);
  const shear = u(cfg.shear_range);
  const [lo, hi] = cfg.zoom_range;
  const zx = lo + (hi - lo) * rng();
  const zy = lo + (hi - lo) * rng();
  const flipHorizontal = rng() < 0.5 && cfg.horizontal_flip;
  const flipVertical = rng() < 0.5 && cfg.vertical_flip;
  return { theta, tx, ty, shear, zx, zy, flipHorizontal, flipVertical };
}

/** The centre Keras 2.0 transforms about (`transform_matrix_offset_center`): side/2 + 0.5. */
export function kerasCentre(size: number): number {
  return size / 2 + 0.5;
}

/**
 * The 2×3 matrix [a b c; d e f] taking an output pixel (row r, column c) to the
 * input point (a·r + b·c + c₀, d·r + e·c + f) it samples, for a square image of
 * side `size`: Keras 2.0's O·R·T·Sh·Z·O⁻¹ (see the top of this file).
 */
export function transformMatrix(t: Transform, size: number): [number, number, number, number, number, number] {
  const theta = (t.theta * Math.PI) / 180;
  const cos = t.theta === 0 ? 1 : Math.cos(theta);
  const sin = t.theta === 0 ? 0 : Math.sin(theta);
  const shSin = t.shear === 0 ? 0 : Math.sin(t.shear);
  const shCos = t.shear === 0 ? 1 : Math.cos(t.shear);
  const tx = t.tx * size;
  const ty = t.ty * size;
  // R·T: rotation, then the translation column R·(tx, ty).
  const r00 = cos,
    r01 = -sin,
    r10 = sin,
    r11 = cos;
  const m02 = r00 * tx + r01 * ty;
  const m12 = r10 * tx + r11 * ty;
  // ·Sh (Sh = [1, −sin s; 0, cos s]) then ·Z (diag(zx, zy)).
  const a = r00 * t.zx;
  const b = (r00 * -shSin + r01 * shCos) * t.zy;
  const d = r10 * t.zx;
  const e = (r10 * -shSin + r11 * shCos) * t.zy;
  // About the centre: in = o + L·(out − o) + shift.
  const o = kerasCentre(size);
  return [a, b, o - a * o - b * o + m02, d, e, o - d * o - e * o + m12];
}

/** Map an integer coordinate outside [0, n) back inside, per fill mode; −1 means "use cval". */
function fillIndex(i: number, n: number, mode: FillMode): number {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case 'nearest':
      return i < 0 ? 0 : n - 1;
    case 'constant':
      return -1;
    case 'wrap':
      return ((i % n) + n) % n;
    case 'reflect': {
      const period = 2 * n;
      const m = ((i % period) + period) % period;
      return m < n ? m : period - 1 - m;
    }
  }
}

function mirrorRows(img: Uint8Array, size: number): void {
  const row = size * 3;
  for (let y = 0; y < size; y++) {
    const base = y * row;
    for (let l = 0, r = size - 1; l < r; l++, r--) {
      const i = base + l * 3;
      const j = base + r * 3;
      for (let ch = 0; ch < 3; ch++) {
        const tmp = img[i + ch];
        img[i + ch] = img[j + ch]!;
        img[j + ch] = tmp;
      }
    }
  }
}

function mirrorColumns(img: Uint8Array, size: number): void {
  const row = size * 3;
  const tmp = new Uint8Array(row);
  for (let top = 0, bottom = size - 1; top < bottom; top++, bottom--) {
    tmp.set(img.subarray(top * row, top * row + row));
    img.copyWithin(top * row, bottom * row, bottom * row + row);
    img.set(tmp, bottom * row);
  }
}

/**
 * Apply `t` to a `size × size × 3` raster: one affine warp (skipped when the
 * matrix is the identity), then the flips. Returns a new array.
 */
export function applyTransform(
  pixels: Uint8Array,
  size: number,
  t: Transform,
  fillMode: FillMode = 'nearest',
  cval = 0,
  interpolation: Interpolation = 'nearest',
): Uint8Array {
  if (pixels.length !== size * size * 3)
    throw new RangeError(`expected ${size}×${size}×3 = ${size * size * 3} bytes, got ${pixels.length}`);
  const [a, b, c, d, e, f] = transformMatrix(t, size);
  const identity = a === 1 && b === 0 && c === 0 && d === 0 && e === 1 && f === 0;
  const out = identity
    ? pixels.slice()
    : warp(pixels, size, [a, b, c, d, e, f], fillMode, Math.round(cval), interpolation);
  if (t.flipHorizontal) mirrorRows(out, size);
  if (t.flipVertical) mirrorColumns(out, size);
  return out;
}

function warp(
  src: Uint8Array,
  n: number,
  [a, b, c, d, e, f]: readonly number[],
  mode: FillMode,
  cval: number,
  interpolation: Interpolation,
): Uint8Array {
  const out = new Uint8Array(n * n * 3);
  const row = n * 3;
  const last = n - 1;
  let o = 0;
  // Output pixel (row y, column x) samples input row sy = a·y + b·x + c, column sx = d·y + e·x + f.
  for (let y = 0; y < n; y++) {
    let sy = a * y + c;
    let sx = d * y + f;
    for (let x = 0; x < n; x++, sy += b, sx += e, o += 3) {
      if (interpolation === 'nearest') {
        const ix = fillIndex(Math.round(sx), n, mode);
        const iy = fillIndex(Math.round(sy), n, mode);
        if (ix < 0 || iy < 0) {
          out[o] = out[o + 1] = out[o + 2] = cval;
        } else {
          const i = iy * row + ix * 3;
          out[o] = src[i]!;
          out[o + 1] = src[i + 1]!;
          out[o + 2] = src[i + 2]!;
        }
        continue;
      }
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const w00 = (1 - fx) * (1 - fy),
        w01 = fx * (1 - fy),
        w10 = (1 - fx) * fy,
        w11 = fx * fy;
      if (x0 >= 0 && y0 >= 0 && x0 < last && y0 < last) {
        const i00 = y0 * row + x0 * 3;
        const i10 = i00 + row;
        for (let ch = 0; ch < 3; ch++) {
          const v = w00 * src[i00 + ch] + w01 * src[i00 + 3 + ch] + w10 * src[i10 + ch] + w11 * src[i10 + 3 + ch];
          out[o + ch] = (v + 0.5) | 0;
        }
        continue;
      }
      // Border: map each tap through the fill mode (constant → cval).
      const xa = fillIndex(x0, n, mode),
        xb = fillIndex(x0 + 1, n, mode);
      const ya = fillIndex(y0, n, mode),
        yb = fillIndex(y0 + 1, n, mode);
      for (let ch = 0; ch < 3; ch++) {
        const p00 = xa < 0 || ya < 0 ? cval : src[ya * row + xa * 3 + ch];
        const p01 = xb < 0 || ya < 0 ? cval : src[ya * row + xb * 3 + ch];
        const p10 = xa < 0 || yb < 0 ? cval : src[yb * row + xa * 3 + ch];
        const p11 = xb < 0 || yb < 0 ? cval : src[yb * row + xb * 3 + ch];
        out[o + ch] = (w00 * p00 + w01 * p01 + w10 * p10 + w11 * p11 + 0.5) | 0;
      }
    }
  }
  return out;
}

/** Augment a raster with the config's own parameters (convenience for stages). */
export function augmentPixels(pixels: Uint8Array, size: number, cfg: AugmentConfig, rng: Rng): Uint8Array {
  return applyTransform(pixels, size, sampleTransform(cfg, rng), cfg.fill_mode, cfg.cval, cfg.interpolation);
}
