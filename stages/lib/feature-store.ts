/**
 * The features artifact: pooled backbone features as one little-endian Float32
 * file (`features.f32`, rows × dim) plus a CSV index (`index.csv`: row, split,
 * copy, label, path), written as the batches come and read back whole by train
 * (a few tens of MB even for thousands of augmented copies).
 */
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { readCsv, writeCsv } from './csv.ts';

export const FEATURES_FILE = 'features.f32';
export const INDEX_FILE = 'index.csv';
export const FEATURES_META = 'features.json';

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
  const bytes = await readFile(path.join(dir, FEATURES_FILE));
  if (bytes.byteLength !== meta.rows * meta.dim * 4 || records.length !== meta.rows) {
    throw new Error(
      `${dir}: features are inconsistent (${bytes.byteLength} bytes, ${records.length} index rows, expected ${meta.rows} × ${meta.dim} float32)`,
    );
  }
  const values = new Float32Array(meta.rows * meta.dim);
  new Uint8Array(values.buffer).set(bytes);
  const rows = records.map((r) => ({
    split: r['split'] as SplitName,
    copy: Number(r['copy']),
    label: Number(r['label']),
    path: r['path']!,
  }));
  return { dim: meta.dim, rows, values };
}

/** Copies the given rows into one contiguous [indices.length, dim] array. */
export function gatherRows(table: FeatureTable, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * table.dim);
  indices.forEach((r, i) => out.set(table.values.subarray(r * table.dim, (r + 1) * table.dim), i * table.dim));
  return out;
}
