/**
 * Sharding of the feature stages (`shards: N` in pipeline.yaml): each shard
 * featurises a contiguous slice of every image list, cut on batch boundaries,
 * and the merge concatenates the shards' feature folders back into the
 * unsharded order. A shard's batches are then exactly the batches of the
 * unsharded run, so features.f32, index.csv and features.json come out
 * byte-identical (the backbone never sees a differently composed batch).
 */
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ShardInfo } from 'pipeline-ml-engine';
import {
  FEATURES_FILE,
  FEATURES_META,
  FeatureWriter,
  INDEX_FILE,
  type FeatureMeta,
  type FeatureRow,
  type SplitName,
} from '../inference/feature-store.ts';
import { readCsv } from '../data/csv.ts';

/** The shard's part of `items`: whole blocks of `block` items, spread as evenly as whole blocks allow. All of them when not sharded. */
export function shardSlice<T>(items: readonly T[], shard: ShardInfo | undefined, block: number): T[] {
  if (!shard || shard.count <= 1) return [...items];
  const blocks = Math.ceil(items.length / block);
  const first = Math.floor((shard.index * blocks) / shard.count);
  const last = Math.floor(((shard.index + 1) * blocks) / shard.count);
  return items.slice(first * block, last * block);
}

/** Rows copied per read while merging: bounded memory whatever the data set's size. */
const MERGE_CHUNK_ROWS = 1024;

/**
 * Write into `outDir` the feature folder the unsharded stage would have
 * written, from the shards' folders (in shard order): for each split in
 * `splitOrder`, that split's rows of shard 0, then of shard 1, … (within a
 * shard, as in the unsharded run, a split's rows are contiguous).
 */
export async function mergeFeatureShards(
  outDir: string,
  shardDirs: readonly string[],
  splitOrder: readonly SplitName[],
): Promise<FeatureMeta> {
  const shards = [];
  for (const dir of shardDirs) {
    const meta = JSON.parse(await readFile(path.join(dir, FEATURES_META), 'utf8')) as FeatureMeta;
    const { records } = await readCsv(path.join(dir, INDEX_FILE), ['row', 'split', 'copy', 'label', 'path']);
    const rows: FeatureRow[] = records.map((r) => ({
      split: r['split'] as SplitName,
      copy: Number(r['copy']),
      label: Number(r['label']),
      path: r['path'],
    }));
    shards.push({ dir, meta, rows });
  }
  const dim = shards[0]?.meta.dim;
  if (dim === undefined || shards.some((s) => s.meta.dim !== dim))
    throw new Error(`feature shards disagree on the feature size (${shards.map((s) => s.meta.dim).join(', ')})`);
  const writer = await FeatureWriter.create(outDir, dim);
  for (const split of splitOrder) {
    for (const shard of shards) {
      const first = shard.rows.findIndex((r) => r.split === split);
      if (first < 0) continue;
      let end = first;
      while (end < shard.rows.length && shard.rows[end].split === split) end++;
      const file = await open(path.join(shard.dir, FEATURES_FILE), 'r');
      try {
        for (let start = first; start < end; start += MERGE_CHUNK_ROWS) {
          const count = Math.min(MERGE_CHUNK_ROWS, end - start);
          const values = new Float32Array(count * dim);
          await file.read(new Uint8Array(values.buffer), 0, values.byteLength, start * dim * 4);
          await writer.append(shard.rows.slice(start, start + count), values);
        }
      } finally {
        await file.close();
      }
    }
  }
  return writer.close(); // writes index.csv and features.json
}

/** Each shard's report.json, in shard order. */
export async function readShardReports(shardDirs: readonly string[]): Promise<Record<string, unknown>[]> {
  return Promise.all(
    shardDirs.map(
      async (dir) => JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')) as Record<string, unknown>,
    ),
  );
}
