/**
 * features: run the frozen base once per image (plus `copies` augmented copies
 * of each training image, never of validation images) and cache the pooled
 * features. After this, training never touches the backbone: on a CPU that is
 * the difference between minutes and hours for 50 epochs. Each pass is kept in
 * the feature store (lib/inference/featurisation.ts), so only variants it lacks are computed.
 *
 * deps: the split lists, the augment-config artifact, build-model's backbone/.
 * outs[0]: features.f32 + features.json + index.csv + report.json.
 * ctx.report: seconds, imagesPerSecond (backbone passes), fromStore, computed;
 * they depend on the store and the machine, not the inputs, so the outs never hold them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage } from 'pipeline-ml-engine';
import { augmentPixels, validateAugmentConfig, type AugmentConfig } from './lib/data/augment.ts';
import { readImageList, type LabelledImage } from './lib/data/dataset.ts';
import { sha256 } from './lib/inference/feature-cache.ts';
import type { SplitName } from './lib/inference/feature-store.ts';
import { featuriseThroughStore, type ImagePlan } from './lib/inference/featurisation.ts';
import { projectRelative as rel, round } from './lib/stage/format.ts';
import { BACKBONE_INFO, openBackboneRunner, parsePrecision, readBackboneInfo } from './lib/inference/inference.ts';
import { mergeFeatureShards, readShardReports, shardSlice } from './lib/stage/shards.ts';
import { createRng } from './lib/data/random.ts';
import { depFolderWith, findInDeps, outFolders } from './lib/stage/stage-files.ts';
import { readParams } from './lib/stage/params.ts';
import rules from './features.params.ts';
import { CLASSES_FILE, readClassList } from './lib/data/class-list.ts';

export const AUGMENT_CONFIG_FILE = 'augment.json';

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/features']);
    const backboneDir = await depFolderWith(ctx.deps, BACKBONE_INFO, 'build-model');
    const info = await readBackboneInfo(backboneDir);
    const classes = await readClassList(await findInDeps(ctx.deps, CLASSES_FILE, 'split'));
    const trainList = await readImageList(await findInDeps(ctx.deps, 'train.csv', 'split'), ctx.root, classes);
    const valList = await readImageList(await findInDeps(ctx.deps, 'val.csv', 'split'), ctx.root, classes);
    const augment = await readAugmentConfig(await findInDeps(ctx.deps, AUGMENT_CONFIG_FILE, 'augment-config'));

    const p = readParams(ctx, rules);
    const runner = await openBackboneRunner(backboneDir, p, ctx, {
      precision: parsePrecision(p.value('runtime.precision')),
    });
    const batchSize = runner.batchSize; // runtime.batch_size, or for auto the device's
    // A shard (shards: N) does its batch-aligned slice of each list; merge() below puts the slices back in order.
    const trainPart = shardSlice(trainList, ctx.shard, batchSize);
    const valPart = shardSlice(valList, ctx.shard, batchSize);
    ctx.log(
      `${trainPart.length} train images × ${1 + augment.copies} (original + ${augment.copies} augmented), ${valPart.length} val images, ` +
        `${info.inputSize}px, engine ${runner.engine}`,
    );
    // What determines a copy's pixels besides the image: every augment param but the number of copies.
    const { copies: _copies, ...draw } = augment;
    const plan =
      (split: SplitName) =>
      (item: LabelledImage): ImagePlan<LabelledImage> => ({
        item,
        variants: (imageHash) =>
          Array.from({ length: 1 + augment.copies }, (_, copy) => ({
            // Validation images get their copies too, into the store only: a re-split (data.seed, data.val_fraction)
            // then finds every copy it needs there. It costs val_fraction × copies more passes on the first run.
            row:
              split === 'val' && copy > 0 ? null : { split, copy, label: item.label, path: rel(ctx.root, item.path) },
            label: `${rel(ctx.root, item.path)} (copy ${copy})`,
            variant: copy === 0 ? { original: true } : { augment: draw, copy },
            // Copy c of an image is drawn from its own stream, seeded by the image's content, the seed and c: the same
            // pixels whatever the image's place in the split, the batch size or the number of copies.
            make: (pixels: Uint8Array) =>
              copy === 0
                ? pixels
                : augmentPixels(pixels, info.inputSize, augment, createRng(drawSeed(imageHash, augment.seed, copy))),
          })),
      });
    let result;
    try {
      result = await featuriseThroughStore({
        ctx,
        images: [...trainPart.map(plan('train')), ...valPart.map(plan('val'))],
        runner,
        info,
        backboneDir,
        batchSize,
        outDir,
      });
    } finally {
      await runner.dispose();
    }
    const skipped = result.skipped.map((s) => ({
      path: rel(ctx.root, s.item.path),
      split: trainPart.includes(s.item) ? 'train' : 'val',
      reason: s.reason,
    }));
    const figures = {
      seconds: result.seconds,
      imagesPerSecond: result.imagesPerSecond,
      fromStore: result.fromStore,
      computed: result.computed,
    };
    ctx.report(figures);
    const report = {
      backbone: info.backbone,
      cutLayer: info.cutLayer,
      engine: runner.engine,
      featureDim: result.meta.dim,
      rows: result.meta.rows,
      images: { train: trainPart.length, val: valPart.length },
      copies: augment.copies,
      skipped: { count: skipped.length, files: skipped },
      store: { path: result.store },
      // A shard's report is no out of the stage: it hands its figures to merge(), which totals them.
      ...(ctx.shard ? { figures } : {}),
    };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(
      `${result.meta.rows} feature rows of ${result.meta.dim}; ${result.computed} backbone passes in ${result.seconds} s (${result.imagesPerSecond} images/s on ${runner.engine}); ` +
        `${skipped.length} bad image(s) skipped`,
    );
  },

  /** shards: N — the shards' feature folders in unsharded row order; the report sums theirs. */
  async merge(ctx, shardOuts) {
    const [outDir] = await outFolders(ctx, ['artifacts/features']);
    const shardDirs = shardOuts.map(([dir]) => dir);
    const meta = await mergeFeatureShards(outDir, shardDirs, ['train', 'val']);
    type ShardReport = {
      images: { train: number; val: number };
      skipped: { files: { split: SplitName }[] };
      store: { path: string };
      figures: { seconds: number; fromStore: number; computed: number };
    };
    const reports = (await readShardReports(shardDirs)) as ShardReport[];
    const sum = (of: (r: ShardReport) => number) => reports.reduce((total, r) => total + of(r), 0);
    const skipped = (['train', 'val'] as const).flatMap((split) =>
      reports.flatMap((r) => r.skipped.files.filter((f) => f.split === split)),
    );
    const seconds = sum((r) => r.figures.seconds);
    ctx.report({
      seconds: round(seconds, 1),
      imagesPerSecond: round(meta.rows / Math.max(seconds, 1e-9), 2),
      fromStore: sum((r) => r.figures.fromStore),
      computed: sum((r) => r.figures.computed),
    });
    const { figures: _figures, ...first } = reports[0];
    const report = {
      ...first,
      rows: meta.rows,
      images: { train: sum((r) => r.images.train), val: sum((r) => r.images.val) },
      skipped: { count: skipped.length, files: skipped },
    };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(`merged ${shardDirs.length} shards: ${meta.rows} feature rows of ${meta.dim}`);
  },
});

export async function readAugmentConfig(file: string): Promise<AugmentConfig> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
  return validateAugmentConfig(raw);
}

/** The seed of augmented copy `copy` of the image whose content hashes to `imageHash`. */
function drawSeed(imageHash: string, seed: number, copy: number): number {
  return Number.parseInt(sha256(`${imageHash}:${seed}:${copy}`).slice(0, 8), 16);
}
