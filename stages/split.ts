/**
 * split: stratified train/validation split of the labelled training images,
 * written as lists (no copies or links of images).
 *
 * params: data.train_dir (relative to the project root), data.classes
 *         (optional list), data.val_fraction (0 < f < 1), data.seed (integer),
 *         data.test_labels (optional: checked against the classes here, before
 *         any training, so a test label the training set lacks fails early)
 * deps:   [the training images folder, the test labels file]
 * outs:   [artifacts/split] → train.csv, val.csv (`path,label`, label = class
 *         index, paths relative to the project root; read them with
 *         `readImageList`), summary.json (class counts and imbalance);
 *         [artifacts/classes] → classes.json, the class list every later stage
 *         uses (its own folder: a re-split with the same classes leaves it
 *         byte-identical, so build-model stays up to date)
 *
 * Each class is shuffled with its own seeded generator and cut at
 * round(n·f), so the class ratio is the same on both sides and adding images
 * of one class never reshuffles the other.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageUserError, type StageContext } from 'pipeline-ml-engine';
import { readLabelledDataset, readLabels, writeImageList, type LabelledImage } from './lib/data/dataset.ts';
import { writeClassList } from './lib/data/class-list.ts';
import { projectRelative } from './lib/stage/format.ts';
import { readParams } from './lib/stage/params.ts';
import rules from './split.params.ts';
import { createRng, shuffle } from './lib/data/random.ts';
import { outFolders } from './lib/stage/stage-files.ts';

export interface SplitResult {
  train: LabelledImage[];
  val: LabelledImage[];
}

export interface SplitParams {
  trainDir: string;
  /** data.classes: the class list and its order; undefined = the classes found, sorted. */
  classes?: string[];
  valFraction: number;
  seed: number;
  testLabels?: string;
}

/** The split's params: the images folder and test labels (absolute), the classes, the validation fraction and the seed. */
export function readSplitParams(ctx: Pick<StageContext, 'params' | 'root' | 'stage'>): SplitParams {
  const p = readParams(ctx, rules);
  return {
    trainDir: p.path('data.train_dir'),
    classes: p.parse('data.classes', (v) => (v === undefined ? undefined : [...(v as string[])])),
    valFraction: p.number('data.val_fraction'),
    seed: p.integer('data.seed'),
    testLabels: p.optionalPath('data.test_labels', 'file'),
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
  for (const label of [...new Set(images.map((i) => i.label))].sort((a, b) => a - b)) {
    const members = images.filter((i) => i.label === label);
    // A stream per class (golden-ratio offset) so one class's split does not depend on the other's size.
    const rng = createRng((seed + Math.imul(0x9e3779b9, label + 1)) >>> 0);
    const shuffled = shuffle(members, rng);
    const nVal = validationCount(members.length, valFraction);
    val.push(...shuffled.slice(0, nVal));
    train.push(...shuffled.slice(nVal));
  }
  const byLabelThenInput = (order: Map<LabelledImage, number>) => (a: LabelledImage, b: LabelledImage) =>
    order.get(a)! - order.get(b)!;
  const order = new Map(images.map((img, k) => [img, k]));
  return { train: train.sort(byLabelThenInput(order)), val: val.sort(byLabelThenInput(order)) };
}

/** Images per class (keyed by class name, in class order) and in all. */
function counts(items: readonly { label: number }[], classes: readonly string[]) {
  const perClass = classes.map((_, k) => items.filter((i) => i.label === k).length);
  return { total: items.length, per_class: Object.fromEntries(classes.map((c, k) => [c, perClass[k]])) };
}

export default defineStage({
  async run(ctx) {
    const { trainDir: dir, classes: wanted, valFraction, seed, testLabels } = readSplitParams(ctx);
    const [outDir, classesDir] = await outFolders(ctx, ['artifacts/split', 'artifacts/classes']);
    const { classes, images } = await readLabelledDataset(dir, wanted);
    const sizes = classes.map((_, k) => images.filter((i) => i.label === k).length);
    const few = classes.flatMap((c, k) => (sizes[k] < 2 ? [`"${c}" (${sizes[k]})`] : []));
    if (few.length > 0) {
      throw new StageUserError(
        `split needs at least 2 images of every class to put one on each side; too few in ${dir}: ${few.join(', ')}`,
      );
    }
    // Test labels are checked now, not after training: a class the training set lacks is an error here.
    // Nothing of them goes into the outs, so editing the labels leaves everything that trains up to date.
    const test = testLabels ? [...(await readLabels(testLabels, classes)).values()] : undefined;
    const { train, val } = stratifiedSplit(images, valFraction, seed);
    await writeClassList(classesDir, classes);
    await writeImageList(path.join(outDir, 'train.csv'), ctx.root, train);
    await writeImageList(path.join(outDir, 'val.csv'), ctx.root, val);
    const all = counts(images, classes);
    const summary = {
      train_dir: projectRelative(ctx.root, dir),
      classes,
      val_fraction: valFraction,
      seed,
      all,
      train: counts(train, classes),
      val: counts(val, classes),
      // Largest class over smallest: 1 = balanced.
      imbalance: Math.round((Math.max(...sizes) / Math.min(...sizes)) * 1000) / 1000,
    };
    await writeFile(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    const show = (c: ReturnType<typeof counts>) => classes.map((name) => `${c.per_class[name]} ${name}`).join(' / ');
    ctx.log(
      `split ${images.length} images of ${classes.length} classes (${classes.join(', ')}) from ${summary.train_dir}: train ${train.length} (${show(summary.train)}), ` +
        `val ${val.length} (${show(summary.val)}), seed ${seed}` +
        (summary.imbalance > 1.5 ? `; imbalance ${summary.imbalance}:1 (largest to smallest class)` : ''),
    );
    if (test)
      ctx.log(
        `test labels: ${test.length} of classes in the training set (${show(
          counts(
            test.map((label) => ({ label })),
            classes,
          ),
        )})`,
      );
    ctx.progress({ done: 1, total: 1, message: `train ${train.length} · val ${val.length}` });
  },
});
