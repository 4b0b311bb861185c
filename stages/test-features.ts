/**
 * test-features: the frozen base's pooled features for every test image (and
 * its horizontal flip when `predict.tta_flip`), cached like `features` so a
 * new head (a changed `train.lr`, say) re-predicts the test set in a second
 * instead of re-running the backbone on it.
 *
 * deps: build-model's backbone/, the test folder.
 * outs[0]: features.f32 + features.json + index.csv (copy 0 = image, 1 = flipped) + report.json.
 * ctx.report: seconds, imagesPerSecond, fromStore, computed (never in the outs: they depend on the store and the machine).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage } from 'pipeline-ml-engine';
import { applyTransform, IDENTITY_TRANSFORM } from './lib/data/augment.ts';
import { listUnlabelledImages, type UnlabelledImage } from './lib/data/dataset.ts';
import { featuriseThroughStore, type ImagePlan } from './lib/inference/featurisation.ts';
import { projectRelative as rel, round } from './lib/stage/format.ts';
import { BACKBONE_INFO, openBackboneRunner, parsePrecision, readBackboneInfo } from './lib/inference/inference.ts';
import { readParams } from './lib/stage/params.ts';
import { mergeFeatureShards, readShardReports, shardSlice } from './lib/stage/shards.ts';
import { depFolderWith, outFolders } from './lib/stage/stage-files.ts';

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/test-features']);
    const p = readParams(ctx);
    const testDir = p.path('data.test_dir', 'folder');
    const flip = p.flag('predict.tta_flip');
    const backboneDir = await depFolderWith(ctx.deps, BACKBONE_INFO, 'build-model');
    const info = await readBackboneInfo(backboneDir);
    const runner = await openBackboneRunner(backboneDir, p, ctx, {
      precision: parsePrecision(p.value('runtime.precision')),
    });
    const batchSize = runner.batchSize; // runtime.batch_size, or for auto the device's
    // A shard (shards: N) does its batch-aligned slice; merge() below puts the slices back in order.
    const images = shardSlice(await listUnlabelledImages(testDir), ctx.shard, batchSize);
    ctx.log(
      `${images.length} test images from ${rel(ctx.root, testDir)}${flip ? ', each also flipped (TTA)' : ''}, engine ${runner.engine}`,
    );
    const plan = (item: UnlabelledImage): ImagePlan<UnlabelledImage> => ({
      item,
      variants: () => [
        {
          row: { split: 'test', copy: 0, label: -1, path: rel(ctx.root, item.path) },
          label: rel(ctx.root, item.path),
          variant: { original: true },
          make: (pixels) => pixels,
        },
        ...(flip
          ? [
              {
                row: { split: 'test' as const, copy: 1, label: -1, path: rel(ctx.root, item.path) },
                label: `${rel(ctx.root, item.path)} (flipped)`,
                variant: { flip: 'horizontal' },
                make: (pixels: Uint8Array) =>
                  applyTransform(pixels, info.inputSize, { ...IDENTITY_TRANSFORM, flipHorizontal: true }),
              },
            ]
          : []),
      ],
    });
    let result;
    try {
      result = await featuriseThroughStore({
        ctx,
        images: images.map(plan),
        runner,
        info,
        backboneDir,
        batchSize,
        outDir,
      });
    } finally {
      await runner.dispose();
    }
    const skipped = result.skipped.map((s) => ({ id: s.item.id, path: rel(ctx.root, s.item.path), reason: s.reason }));
    const figures = {
      seconds: result.seconds,
      imagesPerSecond: result.imagesPerSecond,
      fromStore: result.fromStore,
      computed: result.computed,
    };
    ctx.report(figures);
    const report = {
      images: images.length,
      ids: images.map((img) => img.id),
      flipped: flip,
      rows: result.meta.rows,
      skipped: { count: skipped.length, files: skipped },
      store: { path: result.store },
      engine: runner.engine,
      // A shard's report is no out of the stage: it hands its figures to merge(), which totals them.
      ...(ctx.shard ? { figures } : {}),
    };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(
      `${images.length - skipped.length} test images featurised (${result.computed} backbone passes), ${skipped.length} skipped, ${result.seconds} s (${result.imagesPerSecond} images/s on ${runner.engine})`,
    );
  },

  /** shards: N — the shards' feature folders in unsharded row order; the report concatenates theirs. */
  async merge(ctx, shardOuts) {
    const [outDir] = await outFolders(ctx, ['artifacts/test-features']);
    const shardDirs = shardOuts.map(([dir]) => dir);
    const meta = await mergeFeatureShards(outDir, shardDirs, ['test']);
    type ShardReport = {
      images: number;
      ids: string[];
      skipped: { files: unknown[] };
      store: { path: string };
      figures: { seconds: number; fromStore: number; computed: number };
    };
    const reports = (await readShardReports(shardDirs)) as ShardReport[];
    const sum = (of: (r: ShardReport) => number) => reports.reduce((total, r) => total + of(r), 0);
    const skipped = reports.flatMap((r) => r.skipped.files);
    const images = sum((r) => r.images);
    const seconds = sum((r) => r.figures.seconds);
    ctx.report({
      seconds: round(seconds, 2),
      imagesPerSecond: round(images / Math.max(seconds, 1e-9), 2),
      fromStore: sum((r) => r.figures.fromStore),
      computed: sum((r) => r.figures.computed),
    });
    const { figures: _figures, ...first } = reports[0];
    const report = {
      ...first,
      images,
      ids: reports.flatMap((r) => r.ids),
      rows: meta.rows,
      skipped: { count: skipped.length, files: skipped },
    };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(`merged ${shardDirs.length} shards: ${meta.rows} feature rows of ${meta.dim}`);
  },
});
