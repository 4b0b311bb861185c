/**
 * Decode + resize throughput on real photos, to plan the features stage's time budget.
 * Run it alone (CPU heavy):
 *   npm run bench:decode -- [count=200] [dataset=../shared/datasets/dogs-vs-cats/train]
 * Prints images/s for sizes 224 and 299 at concurrency 1 and 2 (via imageBatches, batch 32),
 * plus toTensorInput and one augmentation warp per image.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyTransform, sampleTransform, validateAugmentConfig } from '../stages/lib/data/augment.ts';
import { listLabelledImages } from '../stages/lib/data/dataset.ts';
import { imageBatches, toTensorInput } from '../stages/lib/data/images.ts';
import { createRng, shuffle } from '../stages/lib/data/random.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const count = Number(process.argv[2] ?? 200);
const dataset = path.resolve(root, process.argv[3] ?? '../shared/datasets/dogs-vs-cats/train');

const all = await listLabelledImages(dataset);
const items = shuffle(all, createRng(1)).slice(0, count);
for (const it of items) await readFile(it.path); // warm the page cache so we time decoding, not the disk
console.log(
  `${items.length} photos from ${path.relative(root, dataset)}, ${os.cpus().length} CPUs, node ${process.version}`,
);

for (const size of [224, 299]) {
  for (const concurrency of [1, 2]) {
    const start = performance.now();
    let decoded = 0;
    let skipped = 0;
    let packMs = 0;
    let input: Float32Array | undefined;
    for await (const batch of imageBatches(items, { size, batchSize: 32, concurrency })) {
      decoded += batch.items.length;
      skipped += batch.skipped.length;
      const t = performance.now();
      input = toTensorInput(batch.pixels, size, 'tf', input);
      packMs += performance.now() - t;
    }
    const seconds = (performance.now() - start) / 1000;
    console.log(
      `size ${size} concurrency ${concurrency}: ${(decoded / seconds).toFixed(1)} images/s ` +
        `(${decoded} decoded, ${skipped} skipped, ${seconds.toFixed(2)} s; toTensorInput ${(packMs / decoded).toFixed(2)} ms/image)`,
    );
  }
  const cfg = validateAugmentConfig({
    rotation_range: 20,
    width_shift_range: 0.1,
    height_shift_range: 0.1,
    shear_range: 0.2,
    zoom_range: 0.2,
    horizontal_flip: true,
    interpolation: 'bilinear',
  });
  const rng = createRng(2);
  let warps = 0;
  let warpMs = 0;
  for await (const batch of imageBatches(items.slice(0, 64), { size, batchSize: 32 })) {
    for (const px of batch.pixels) {
      const t = performance.now();
      applyTransform(px, size, sampleTransform(cfg, rng), 'nearest', 0, cfg.interpolation);
      warpMs += performance.now() - t;
      warps++;
    }
  }
  console.log(
    `size ${size}: augmentation warp ${(warpMs / warps).toFixed(2)} ms/image (bilinear, rotation+shift+shear+zoom)`,
  );
}
