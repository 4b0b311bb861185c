/**
 * The features artifact: pooled backbone features as one little-endian Float32
 * file (`features.f32`, rows × dim) plus a CSV index (`index.csv`: row, split,
 * copy, label, path), written as the batches come. Read back into one
 * Float32Array in chunks (never one readFile: that caps at 2 GiB, and Kaggle's
 * 25,000 photos with Xception and a few copies pass it), so a reader holds the
 * rows once.
 */
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { readCsv, writeCsv } from '../data/csv.ts';

export const FEATURES_FILE = 'features.f32';
export const INDEX_FILE = 'index.csv';
export const FEATURES_META = 'features.json';

/** Bytes per read of features.f32. */
const READ_CHUNK = 64 << 20;

export type SplitName = 'train' | 'val' | 'test';

export interface FeatureRow {
  split: SplitName;
  /** 0 = the original image; 1..copies = augmented copies (train only); for test, 1 = the horizontal flip. */
  copy: number;
  /** 1 = dog, 0 = cat, -1 = unknown (test). */
  label: number;
  /** Project-relative path of the image. */
  path: string;
}

export interface FeatureMeta {
  dim: number;
  rows: number;
  dtype: 'float32';
  byteOrder: 'little-endian';
}

export class FeatureWriter {
  private rows: FeatureRow[] = [];
  private constructor(
    private readonly dir: string,
    private readonly file: FileHandle,
    readonly dim: number,
  ) {}

  static async create(dir: string, dim: number): Promise<FeatureWriter> {
    return new FeatureWriter(dir, await open(path.join(dir, FEATURES_FILE), 'w'), dim);
  }

  get count(): number {
    return this.rows.length;
  }

  /** Appends rows; `pooled` is [rows.length, dim]. */
  async append(rows: readonly FeatureRow[], pooled: Float32Array): Promise<void> {
    if (pooled.length !== rows.length * this.dim) {
      throw new Error(`features: ${pooled.length} values for ${rows.length} rows of ${this.dim}`);
    }
    const bytes = new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.byteLength);
    // Float32Array is platform-endian; every platform Node supports here is little-endian.
    await this.file.write(bytes);
    this.rows.push(...rows);
  }

  async close(): Promise<FeatureMeta> {
    await this.file.close();
    await writeCsv(
      path.join(this.dir, INDEX_FILE),
      ['row', 'split', 'copy', 'label', 'path'],
      this.rows.map((r, i) => [i, r.split, r.copy, r.label, r.path]),
    );
    const meta: FeatureMeta = { dim: this.dim, rows: this.rows.length, dtype: 'float32', byteOrder: 'little-endian' };
    await writeFile(path.join(this.dir, FEATURES_META), JSON.stringify(meta, null, 2) + '\n');
    return meta;
  }
}

export interface FeatureTable {
  dim: number;
  rows: FeatureRow[];
  /** [rows, dim] row-major. */
  values: Float32Array;
}

export async function readFeatures(dir: string): Promise<FeatureTable> {
  const meta = JSON.parse(await readFile(path.join(dir, FEATURES_META), 'utf8')) as FeatureMeta;
  const { records } = await readCsv(path.join(dir, INDEX_FILE), ['row', 'split', 'copy', 'label', 'path']);
  const file = await open(path.join(dir, FEATURES_FILE), 'r');
  const values = new Float32Array(meta.rows * meta.dim);
  try {
    const size = (await file.stat()).size;
    if (size !== meta.rows * meta.dim * 4 || records.length !== meta.rows) {
      throw new Error(
        `${dir}: features are inconsistent (${size} bytes, ${records.length} index rows, expected ${meta.rows} × ${meta.dim} float32)`,
      );
    }
    const bytes = new Uint8Array(values.buffer);
    for (let at = 0; at < bytes.length;) {
      const { bytesRead } = await file.read(bytes, at, Math.min(READ_CHUNK, bytes.length - at), at);
      if (bytesRead === 0)
        throw new Error(`${dir}: ${FEATURES_FILE} ended at byte ${at} of ${bytes.length} while being read`);
      at += bytesRead;
    }
  } finally {
    await file.close();
  }
  const rows = records.map((r) => ({
    split: r['split'] as SplitName,
    copy: Number(r['copy']),
    label: Number(r['label']),
    path: r['path'],
  }));
  return { dim: meta.dim, rows, values };
}

/** Copies the given rows into one contiguous [indices.length, dim] array. */
export function gatherRows(table: FeatureTable, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * table.dim);
  indices.forEach((r, i) => out.set(table.values.subarray(r * table.dim, (r + 1) * table.dim), i * table.dim));
  return out;
}
