/**
 * split: stratified train/validation split of the labelled training images,
 * written as lists (no copies or links of images).
 *
 * params: data.train_dir (relative to the project root), data.val_fraction
 *         (0 < f < 1), data.seed (integer)
 * deps:   [the training images folder]
 * outs:   [artifacts/split] → train.csv, val.csv (`path,label`, paths relative
 *         to the project root; read them with `readImageList`), summary.json
 *
 * Each class is shuffled with its own seeded generator and cut at
 * round(n·f), so the class ratio is the same on both sides and adding images
 * of one class never reshuffles the other.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageUserError, type StageContext } from '../src/contract.ts';
import { LABEL_NAMES, listLabelledImages, writeImageList, type Label, type LabelledImage } from './lib/data/dataset.ts';
import { projectRelative } from './lib/stage/format.ts';
import { readParams } from './lib/stage/params.ts';
import rules from './split.params.ts';
import { createRng, shuffle } from './lib/data/random.ts';
import { outFolders } from './lib/stage/stage-files.ts';

export interface SplitResult {
  train: LabelledImage[];
  val: LabelledImage[];
}

/** The split's params: the images folder (absolute), the validation fraction and the seed. */
export function readSplitParams(ctx: Pick<StageContext, 'params' | 'root' | 'stage'>): { trainDir: string; valFraction: number; seed: number } {
  const p = readParams(ctx, rules);
  return {
    trainDir: p.path('data.train_dir'),
    valFraction: p.number('data.val_fraction'),
    seed: p.integer('data.seed'),
  };
}

/** How many of `n` images go to validation: round(n·f), but keep at least one on each side when n ≥ 2. */
export function validationCount(n: number, fraction: number): number {
  if (n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

/** The stratified split itself (pure: same input, fraction and seed → same output). */
export function stratifiedSplit(images: readonly LabelledImage[], valFraction: number, seed: number): SplitResult {
  const train: LabelledImage[] = [];
  const val: LabelledImage[] = [];
  for (const label of [0, 1] as Label[]) {
    const members = images.filter((i) => i.label === label);
    // A stream per class (golden-ratio offset) so one class's split does not depend on the other's size.
    const rng = createRng((seed + Math.imul(0x9e3779b9, label + 1)) >>> 0);
    const shuffled = shuffle(members, rng);
    const nVal = validationCount(members.length, valFraction);
    val.push(...shuffled.slice(0, nVal));
    train.push(...shuffled.slice(nVal));
  }
  const byLabelThenInput = (order: Map<LabelledImage, number>) => (a: LabelledImage, b: LabelledImage) => order.get(a)! - order.get(b)!;
  const order = new Map(images.map((img, k) => [img, k]));
  return { train: train.sort(byLabelThenInput(order)), val: val.sort(byLabelThenInput(order)) };
}

function counts(items: readonly LabelledImage[]) {
  const cat = items.filter((i) => i.label === 0).length;
  return { cat, dog: items.length - cat, total: items.length };
}

export default defineStage({
  async run(ctx) {
    const { trainDir: dir, valFraction, seed } = readSplitParams(ctx);
    const [outDir] = await outFolders(ctx, ['artifacts/split']);
    const images = await listLabelledImages(dir);
    for (const label of [0, 1] as Label[]) {
      const n = images.filter((i) => i.label === label).length;
      if (n < 2) {
        throw new StageUserError(`split needs at least 2 ${LABEL_NAMES[label]} images to put one on each side, found ${n} in ${dir}`);
      }
    }
    const { train, val } = stratifiedSplit(images, valFraction, seed);
    await writeImageList(path.join(outDir, 'train.csv'), ctx.root, train);
    await writeImageList(path.join(outDir, 'val.csv'), ctx.root, val);
    const summary = {
      train_dir: projectRelative(ctx.root, dir),
      val_fraction: valFraction,
      seed,
      all: counts(images),
      train: counts(train),
      val: counts(val),
    };
    await writeFile(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    ctx.log(
      `split ${images.length} images from ${summary.train_dir}: train ${train.length} (${summary.train.cat} cat / ${summary.train.dog} dog), ` +
        `val ${val.length} (${summary.val.cat} cat / ${summary.val.dog} dog), seed ${seed}`,
    );
    ctx.progress({ done: 1, total: 1, message: `train ${train.length} · val ${val.length}` });
  },
});
