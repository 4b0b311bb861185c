/** Sharding of the feature stages: slices cut on batch boundaries, merged back byte for byte. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  FEATURES_FILE,
  FEATURES_META,
  FeatureWriter,
  INDEX_FILE,
  type FeatureRow,
  type SplitName,
} from '../../../stages/lib/inference/feature-store.ts';
import { mergeFeatureShards, shardSlice } from '../../../stages/lib/stage/shards.ts';

const DIM = 5;
const BATCH = 4;
const lists: Record<'train' | 'val', string[]> = {
  train: Array.from({ length: 37 }, (_, i) => `data/train/${i}.jpg`),
  val: Array.from({ length: 11 }, (_, i) => `data/val/${i}.jpg`),
};
const copiesOf = { train: 2, val: 0 };

/** What the feature stage writes for these items: one row per copy, values a function of (image, copy). */
async function writeFeatures(dir: string, parts: Record<'train' | 'val', string[]>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const writer = await FeatureWriter.create(dir, DIM);
  for (const split of ['train', 'val'] as SplitName[]) {
    for (const image of parts[split as 'train' | 'val']) {
      const k = lists[split as 'train' | 'val'].indexOf(image);
      for (let copy = 0; copy <= copiesOf[split as 'train' | 'val']; copy++) {
        const row: FeatureRow = { split, copy, label: k % 2, path: image };
        await writer.append(
          [row],
          Float32Array.from({ length: DIM }, (_, d) => Math.sin(k * 7.1 + copy * 1.3 + d) * (split === 'val' ? -1 : 1)),
        );
      }
    }
  }
  await writer.close();
}

describe('feature shards', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'pipeline-shards-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('shard slices cover each list once, in order, cut on batch boundaries', () => {
    for (const count of [1, 2, 3, 4, 7, 12]) {
      const slices = Array.from({ length: count }, (_, index) => shardSlice(lists.train, { index, count }, BATCH));
      assert.deepEqual(slices.flat(), lists.train);
      let start = 0;
      for (const slice of slices) {
        assert.equal(start % BATCH, 0, `a slice starts mid-batch (count ${count})`);
        start += slice.length;
      }
    }
    assert.deepEqual(shardSlice(lists.val, undefined, BATCH), lists.val);
  });

  test('merging the shards gives the unsharded feature folder, byte for byte', async () => {
    await writeFeatures(path.join(root, 'whole'), lists);
    for (const count of [2, 3, 5]) {
      const shardDirs: string[] = [];
      for (let index = 0; index < count; index++) {
        const dir = path.join(root, `n${count}`, `shard-${index}`);
        await writeFeatures(dir, {
          train: shardSlice(lists.train, { index, count }, BATCH),
          val: shardSlice(lists.val, { index, count }, BATCH),
        });
        shardDirs.push(dir);
      }
      const merged = path.join(root, `n${count}`, 'merged');
      mkdirSync(merged);
      const meta = await mergeFeatureShards(merged, shardDirs, ['train', 'val']);
      assert.equal(meta.rows, 37 * 3 + 11);
      for (const file of [FEATURES_FILE, INDEX_FILE, FEATURES_META])
        assert.ok(
          readFileSync(path.join(merged, file)).equals(readFileSync(path.join(root, 'whole', file))),
          `${file} differs with ${count} shards`,
        );
    }
  });
});
