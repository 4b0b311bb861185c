/**
 * features: run the frozen base once per image (plus `copies` augmented copies
 * of each training image, never of validation images) and cache the pooled
 * features. After this, training never touches the backbone: on a CPU that is
 * the difference between minutes and hours for 50 epochs.
 *
 * deps: the split lists, the augment-config artifact, build-model's backbone/.
 * outs[0]: features.f32 + features.json + index.csv + report.json.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage } from '../src/contract.ts';
import { augmentPixels, validateAugmentConfig, type AugmentConfig } from './lib/augment.ts';
import type { BackboneRunner } from './lib/backbone-runner.ts';
import { readImageList, type LabelledImage } from './lib/dataset.ts';
import { FeatureWriter, type FeatureRow, type SplitName } from './lib/feature-store.ts';
import { projectRelative as rel, round } from './lib/format.ts';
import { imageBatches, toTensorInput } from './lib/images.ts';
import { BACKBONE_INFO, openBackboneRunner, readBackboneInfo } from './lib/inference.ts';
import { createRng } from './lib/random.ts';
import { depFolderWith, findInDeps, outFolders } from './lib/stage-files.ts';
import { Throughput } from './lib/throughput.ts';

export const AUGMENT_CONFIG_FILE = 'augment.json';

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/features']);
    const backboneDir = await depFolderWith(ctx.deps, BACKBONE_INFO, 'build-model');
    const info = await readBackboneInfo(backboneDir);
    const trainList = await readImageList(await findInDeps(ctx.deps, 'train.csv', 'split'), ctx.root);
    const valList = await readImageList(await findInDeps(ctx.deps, 'val.csv', 'split'), ctx.root);
    const augment = await readAugmentConfig(await findInDeps(ctx.deps, AUGMENT_CONFIG_FILE, 'augment-config'));

    const runner = await openBackboneRunner(backboneDir, ctx.params, ctx);
    const batchSize = runner.batchSize;
    const writer = await FeatureWriter.create(outDir, info.featureDim);
    const total = trainList.length * (1 + augment.copies) + valList.length;
    const meter = new Throughput(total);
    ctx.log(
      `${trainList.length} train images × ${1 + augment.copies} (original + ${augment.copies} augmented), ${valList.length} val images, ` +
        `${info.inputSize}px, engine ${runner.engine}`,
    );
    const skipped: { path: string; split: SplitName; reason: string }[] = [];
    try {
      for (const [split, list, copies] of [['train', trainList, augment.copies], ['val', valList, 0]] as const) {
        // Row k of the list seeds its own augmentation draws: the same copies whatever the batch size.
        const indexOf = new Map(list.map((item, k) => [item, k]));
        for await (const batch of imageBatches(list, { size: info.inputSize, batchSize })) {
          for (const s of batch.skipped) {
            ctx.warn(`skipped ${s.message}`);
            skipped.push({ path: rel(ctx.root, s.item.path), split, reason: s.reason });
            meter.add(1 + copies);
          }
          const variants: Uint8Array[] = [];
          const rows: FeatureRow[] = [];
          batch.items.forEach((item: LabelledImage, i) => {
            const pixels = batch.pixels[i]!;
            const rng = createRng(mixSeed(augment.seed, indexOf.get(item)!));
            for (let copy = 0; copy <= copies; copy++) {
              variants.push(copy === 0 ? pixels : augmentPixels(pixels, info.inputSize, augment, rng));
              rows.push({ split, copy, label: item.label, path: rel(ctx.root, item.path) });
            }
          });
          for (let start = 0; start < variants.length; start += batchSize) {
            const chunk = variants.slice(start, start + batchSize);
            const pooled = await runPooled(runner, chunk, info.inputSize, info.preprocess);
            await writer.append(rows.slice(start, start + chunk.length), pooled);
            meter.add(chunk.length);
            ctx.progress({
              done: meter.done,
              total,
              message: meter.etaMessage(),
              metrics: { 'images/s': round(meter.rate(), 1) },
            });
          }
        }
      }
    } finally {
      await runner.dispose();
    }
    const meta = await writer.close();
    const report = {
      backbone: info.backbone,
      cutLayer: info.cutLayer,
      engine: runner.engine,
      featureDim: meta.dim,
      rows: meta.rows,
      images: { train: trainList.length, val: valList.length },
      copies: augment.copies,
      skipped: { count: skipped.length, files: skipped },
      seconds: round(meter.seconds(), 1),
      imagesPerSecond: round(meter.rate(), 2),
    };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(
      `${meta.rows} feature rows of ${meta.dim} in ${report.seconds} s (${report.imagesPerSecond} images/s on ${runner.engine}); ` +
        `${skipped.length} bad image(s) skipped`,
    );
  },
});

async function runPooled(runner: BackboneRunner, pixels: Uint8Array[], size: number, preprocess: Parameters<typeof toTensorInput>[2]): Promise<Float32Array> {
  const input = toTensorInput(pixels, size, preprocess);
  const out = await runner.run(input, pixels.length);
  return out.pooled;
}

export async function readAugmentConfig(file: string): Promise<AugmentConfig> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
  return validateAugmentConfig(raw);
}

/** A well-spread 32-bit seed per (run seed, image): neighbouring images get unrelated streams. */
function mixSeed(seed: number, k: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(k + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}
