/**
 * Image decoding for the model: any file sharp can read (by content, not by
 * extension) → a square RGB raster, `size × size × 3` bytes, row-major HWC.
 *
 * - EXIF orientation is applied (`rotate()`), so a phone photo stands upright.
 * - CMYK, grayscale, palette and alpha images come out as 3-channel sRGB
 *   (alpha flattened onto white).
 * - Animated GIF/WebP: the first frame only.
 * - Huge images: JPEG/WebP are shrunk while decoding (libvips shrink-on-load),
 *   so a 144 MP JPEG decodes in a few tens of MB; anything above
 *   `maxInputPixels` is refused as 'too-large' before it is decoded.
 * - `resize: 'squash'` stretches to the square like Keras' `load_img(target_size)`
 *   and `flow_from_directory`; `'crop'` scales the short side and centre-crops.
 */
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { DecoderGate } from './decoder-gate.ts';

export type ResizeMode = 'squash' | 'crop';
export type Preprocess = 'tf' | 'unit' | 'caffe';

export type ImageErrorReason =
  /** zero-byte file */
  | 'empty'
  /** the data stops before the image is complete */
  | 'truncated'
  /** not a format sharp knows, or a corrupt header */
  | 'not-an-image'
  /** above the pixel limit */
  | 'too-large'
  /** the file could not be opened or read (missing, permissions, a folder) */
  | 'unreadable'
  /** the decoder failed for another reason (corrupt data) */
  | 'corrupt';

/** A file that cannot be turned into pixels; `reason` says why, `file` which. */
export class ImageError extends Error {
  readonly reason: ImageErrorReason;
  readonly file: string;
  constructor(file: string, reason: ImageErrorReason, detail: string) {
    super(`${file}: ${reason}: ${detail}`);
    this.name = 'ImageError';
    this.file = file;
    this.reason = reason;
  }
}

/** 200 MP: far above any photo we expect. Measured: a 144 MP JPEG decodes to 299² in ~0.3 s and +10 MB RSS (shrink-on-load), a 144 MP PNG in ~0.2 s and ~150 MB peak RSS (libvips streams it). */
export const DEFAULT_MAX_INPUT_PIXELS = 200_000_000;

export interface DecodeOptions {
  /** Output side in pixels. */
  size: number;
  resize?: ResizeMode;
  /** Refuse images with more pixels than this (width × height), as 'too-large'. */
  maxInputPixels?: number;
}

function classify(file: string, err: unknown): ImageError {
  if (err instanceof ImageError) return err;
  const e = err as NodeJS.ErrnoException;
  const msg = e?.message ?? String(err);
  if (isErrno(err)) return new ImageError(file, 'unreadable', msg);
  if (/premature end|truncated|unexpected end|not enough data|read error|short read/i.test(msg))
    return new ImageError(file, 'truncated', msg);
  if (/pixel limit|too large|exceeds/i.test(msg)) return new ImageError(file, 'too-large', msg);
  if (/unsupported image format|corrupt header|not a known|bad seek|no decode/i.test(msg))
    return new ImageError(file, 'not-an-image', msg);
  if (/no such file|permission denied|is a directory/i.test(msg)) return new ImageError(file, 'unreadable', msg);
  return new ImageError(file, 'corrupt', msg);
}

const gate = new DecoderGate();

/**
 * Decode one file to `size × size × 3` RGB bytes. Throws `ImageError`.
 */
export async function decodeImage(file: string, opts: DecodeOptions): Promise<Uint8Array> {
  if (!Number.isInteger(opts.size) || opts.size < 1)
    throw new RangeError(`image size must be a positive integer, got ${opts.size}`);
  try {
    return await gate.shared(() => decodeOnce(file, opts));
  } catch (err) {
    // Our own checks and the file system speak for this file alone; libvips' words may be another decode's.
    if (err instanceof ImageError || isErrno(err)) throw classify(file, err);
  }
  try {
    return await gate.alone(() => decodeOnce(file, opts));
  } catch (err) {
    throw classify(file, err);
  }
}

const isErrno = (err: unknown) =>
  typeof (err as NodeJS.ErrnoException)?.code === 'string' && /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code!);

async function decodeOnce(file: string, opts: DecodeOptions): Promise<Uint8Array> {
  const { size, resize = 'squash', maxInputPixels = DEFAULT_MAX_INPUT_PIXELS } = opts;
  const info = await stat(file);
  if (info.isDirectory()) throw new ImageError(file, 'unreadable', 'is a folder, not a file');
  if (info.size === 0) throw new ImageError(file, 'empty', 'the file is empty (0 bytes)');
  const { data, info: out } = await sharp(file, {
    // Truncated data is an error; mere warnings (extraneous bytes, odd markers) are not, like PIL.
    failOn: 'truncated',
    limitInputPixels: maxInputPixels,
    pages: 1,
    page: 0,
  })
    .rotate()
    .resize(size, size, {
      fit: resize === 'crop' ? 'cover' : 'fill',
      position: 'centre',
      kernel: 'lanczos3',
      fastShrinkOnLoad: true,
    })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (out.width !== size || out.height !== size || out.channels !== 3 || data.length !== size * size * 3) {
    throw new ImageError(
      file,
      'corrupt',
      `decoder returned ${out.width}×${out.height}×${out.channels}, expected ${size}×${size}×3`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** One decoded batch: `items[i]` ↔ `pixels[i]`; files that failed are in `skipped`, not in `items`. */
export interface ImageBatch<T> {
  items: T[];
  pixels: Uint8Array[];
  skipped: { item: T; reason: ImageErrorReason; message: string }[];
}

export interface BatchOptions {
  size: number;
  batchSize: number;
  resize?: ResizeMode;
  /** Files decoded at once (default 2: one per core here; sharp runs them on libuv threads). */
  concurrency?: number;
  maxInputPixels?: number;
}

async function decodeBatch<T extends { path: string }>(
  items: readonly T[],
  opts: BatchOptions,
): Promise<ImageBatch<T>> {
  const results = new Array<Uint8Array | ImageError>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      try {
        results[k] = await decodeImage(items[k].path, opts);
      } catch (err) {
        results[k] = classify(items[k].path, err);
      }
    }
  };
  const workers = Math.max(1, Math.min(opts.concurrency ?? 2, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  const batch: ImageBatch<T> = { items: [], pixels: [], skipped: [] };
  results.forEach((r, k) => {
    if (r instanceof ImageError) batch.skipped.push({ item: items[k], reason: r.reason, message: r.message });
    else {
      batch.items.push(items[k]);
      batch.pixels.push(r);
    }
  });
  return batch;
}

/**
 * Decode `items` in order, `batchSize` at a time. While the consumer works on
 * one batch the next is already decoding (so decode overlaps inference), and
 * no more than two batches are alive at once. Undecodable files never throw:
 * they land in the batch's `skipped` list for the caller to warn and count.
 * A batch may hold fewer than `batchSize` items (the last one, or after skips);
 * a batch whose files were all skipped is still yielded (items empty).
 */
export async function* imageBatches<T extends { path: string }>(
  items: readonly T[],
  opts: BatchOptions,
): AsyncGenerator<ImageBatch<T>, void, undefined> {
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
    throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
  // Checked here, not per file: a bad size would otherwise skip every file as 'corrupt'.
  if (!Number.isInteger(opts.size) || opts.size < 1)
    throw new RangeError(`image size must be a positive integer, got ${opts.size}`);
  if (items.length === 0) return;
  const slice = (start: number) => items.slice(start, start + opts.batchSize);
  let pending = decodeBatch(slice(0), opts);
  for (let start = 0; start < items.length; start += opts.batchSize) {
    const batch = await pending;
    if (start + opts.batchSize < items.length) pending = decodeBatch(slice(start + opts.batchSize), opts);
    yield batch;
  }
}

/** Per-byte lookup tables: preprocessing is then one load and one store per value. */
const LUTS = new Map<string, Float32Array[]>();
function tablesFor(preprocess: Preprocess): Float32Array[] {
  let t = LUTS.get(preprocess);
  if (t) return t;
  const make = (f: (v: number) => number) => Float32Array.from({ length: 256 }, (_, v) => f(v));
  if (preprocess === 'tf') {
    const lut = make((v) => v / 127.5 - 1);
    t = [lut, lut, lut];
  } else if (preprocess === 'unit') {
    const lut = make((v) => v / 255);
    t = [lut, lut, lut];
  } else if (preprocess === 'caffe') {
    // Keras 'caffe': BGR order, ImageNet channel means subtracted, no scaling. Tables are per *output* channel (B, G, R).
    t = [make((v) => v - 103.939), make((v) => v - 116.779), make((v) => v - 123.68)];
  } else {
    throw new RangeError(`unknown preprocessing ${JSON.stringify(preprocess)} (expected 'tf', 'unit' or 'caffe')`);
  }
  LUTS.set(preprocess, t);
  return t;
}

/**
 * Pack decoded rasters into one NHWC float32 batch, preprocessed for the backbone:
 * 'tf' x/127.5−1 (MobileNet, Xception), 'unit' x/255 (Darknet), 'caffe' BGR minus ImageNet means.
 * Pass `out` (at least n·size²·3 long) to reuse a buffer across batches.
 */
export function toTensorInput(
  pixels: readonly Uint8Array[],
  size: number,
  preprocess: Preprocess = 'tf',
  out?: Float32Array,
): Float32Array {
  const per = size * size * 3;
  const need = pixels.length * per;
  const dst = out && out.length >= need ? out : new Float32Array(need);
  const [l0, l1, l2] = tablesFor(preprocess) as [Float32Array, Float32Array, Float32Array];
  const swap = preprocess === 'caffe';
  for (let n = 0; n < pixels.length; n++) {
    const src = pixels[n];
    if (src.length !== per)
      throw new RangeError(`image ${n} has ${src.length} bytes, expected ${size}×${size}×3 = ${per}`);
    let o = n * per;
    if (swap) {
      for (let i = 0; i < per; i += 3, o += 3) {
        dst[o] = l0[src[i + 2]]!;
        dst[o + 1] = l1[src[i + 1]]!;
        dst[o + 2] = l2[src[i]]!;
      }
    } else {
      for (let i = 0; i < per; i++) dst[o + i] = l0[src[i]]!;
    }
  }
  return need === dst.length ? dst : dst.subarray(0, need);
}
