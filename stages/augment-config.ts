/**
 * augment-config: resolve and validate the augmentation parameters (Keras
 * ImageDataGenerator semantics, see lib/data/augment.ts) into an artifact the
 * features stage reads, and draw a preview grid of augmented training
 * samples with their labels (the notebook's 3×6 figure).
 *
 * params: augment (the whole subtree)
 * deps:   [artifacts/split]  (train.csv, for the preview images)
 * outs:   [artifacts/augment-config] → augment.json, preview.png
 *
 * The preview is drawn at 224×224 whatever the model's input size, so this
 * stage does not depend on the model params.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage } from 'pipeline-ml-engine';
import { augmentPixels, isIdentityConfig, validateAugmentConfig } from './lib/data/augment.ts';
import { readImageList, type LabelledImage } from './lib/data/dataset.ts';
import { CLASSES_FILE, readClassList } from './lib/data/class-list.ts';
import { findInDeps } from './lib/stage/stage-files.ts';
import { imageBatches } from './lib/data/images.ts';
import { readParams } from './lib/stage/params.ts';
import { writeGrid, type GridTile } from './lib/data/picture.ts';
import { createRng, shuffle } from './lib/data/random.ts';
import { outFolders } from './lib/stage/stage-files.ts';

export const PREVIEW_SIZE = 224;
export const PREVIEW_ROWS = 3;
export const PREVIEW_COLS = 6;

export default defineStage({
  async run(ctx) {
    // The subtree's own rules live in validateAugmentConfig (features re-validates the artifact with it).
    const cfg = validateAugmentConfig(readParams(ctx).value('augment'));
    const [splitDir] = ctx.deps;
    if (!splitDir) throw new Error('augment-config: no dependency declared (expected deps: [artifacts/split])');
    const [outDir] = await outFolders(ctx, ['artifacts/augment-config']);
    await writeFile(path.join(outDir, 'augment.json'), JSON.stringify(cfg, null, 2) + '\n');
    if (cfg.copies > 0 && isIdentityConfig(cfg)) {
      ctx.warn(`augment.copies is ${cfg.copies} but no transform is enabled: every copy would equal its original`);
    }
    ctx.log(`augmentation: ${JSON.stringify(cfg)}`);

    // Preview: seeded picks from the training list, cycling if the list is short.
    const classes = await readClassList(await findInDeps(ctx.deps, CLASSES_FILE, 'split'));
    const train = await readImageList(path.join(splitDir, 'train.csv'), ctx.root, classes);
    if (train.length === 0) throw new Error(`augment-config: ${path.join(splitDir, 'train.csv')} lists no images`);
    const wanted = PREVIEW_ROWS * PREVIEW_COLS;
    const rng = createRng(cfg.seed);
    const order = shuffle(train, rng);
    const tiles: GridTile[] = [];
    let skipped = 0;
    for (let round = 0; tiles.length < wanted && round < wanted; round++) {
      const decodedBefore = tiles.length;
      for await (const batch of imageBatches<LabelledImage>(order, { size: PREVIEW_SIZE, batchSize: wanted })) {
        if (round === 0) {
          for (const s of batch.skipped) {
            skipped++;
            ctx.warn(`skipped ${s.message}`);
          }
        }
        batch.items.forEach((item, k) => {
          if (tiles.length >= wanted) return;
          tiles.push({
            pixels: augmentPixels(batch.pixels[k], PREVIEW_SIZE, cfg, rng),
            size: PREVIEW_SIZE,
            caption: `${classes[item.label]} · ${item.id}`,
          });
        });
        ctx.progress({ done: tiles.length, total: wanted, message: 'preview' });
        if (tiles.length >= wanted) break;
      }
      if (tiles.length === decodedBefore) break; // nothing decodes: do not loop forever
    }
    if (tiles.length === 0)
      throw new Error(`augment-config: none of the ${train.length} training images could be decoded for the preview`);
    await writeGrid(tiles, PREVIEW_COLS, path.join(outDir, 'preview.png'), {
      title: `Augmented training samples (seed ${cfg.seed})`,
    });
    ctx.log(
      `preview.png: ${tiles.length} augmented samples${skipped ? `, ${skipped} undecodable file(s) skipped` : ''}`,
    );
  },
});
