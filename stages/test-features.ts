/**
 * test-features: the frozen base's pooled features for every test image (and
 * its horizontal flip when `predict.tta_flip`), cached like `features` so a
 * new head (a changed `train.lr`, say) re-predicts the test set in a second
 * instead of re-running the backbone on it.
 *
 * deps: build-model's backbone/, the test folder.
 * outs[0]: features.f32 + features.json + index.csv (copy 0 = image, 1 = flipped) + report.json.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage } from '../src/contract.ts';
import { applyTransform, IDENTITY_TRANSFORM } from './lib/augment.ts';
import { listUnlabelledImages } from './lib/dataset.ts';
import { FeatureWriter, type FeatureRow } from './lib/feature-store.ts';
import { projectRelative as rel, round } from './lib/format.ts';
import { imageBatches, toTensorInput } from './lib/images.ts';
import { BACKBONE_INFO, openBackboneRunner, readBackboneInfo } from './lib/inference.ts';
import { readParams } from './lib/params.ts';
import { depFolderWith, outFolders } from './lib/stage-files.ts';
import { Throughput } from './lib/throughput.ts';

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/test-features']);
    const p = readParams(ctx);
    const testDir = p.path('data.test_dir', 'folder');
    const flip = p.flag('predict.tta_flip');
    const backboneDir = await depFolderWith(ctx.deps, BACKBONE_INFO, 'build-model');
    const info = await readBackboneInfo(backboneDir);
    const images = await listUnlabelledImages(testDir);
    const runner = await openBackboneRunner(backboneDir, ctx.params, ctx);
    const batchSize = runner.batchSize;
    const writer = await FeatureWriter.create(outDir, info.featureDim);
    const meter = new Throughput(images.length);
    const skipped: { id: string; path: string; reason: string }[] = [];
    ctx.log(`${images.length} test images from ${rel(ctx.root, testDir)}${flip ? ', each also flipped (TTA)' : ''}, engine ${runner.engine}`);
    try {
      for await (const batch of imageBatches(images, { size: info.inputSize, batchSize })) {
        for (const s of batch.skipped) {
          ctx.warn(`skipped ${s.message}`);
          skipped.push({ id: s.item.id, path: rel(ctx.root, s.item.path), reason: s.reason });
        }
        const variants: Uint8Array[] = [];
        const rows: FeatureRow[] = [];
        batch.items.forEach((item, i) => {
          const pixels = batch.pixels[i]!;
          variants.push(pixels);
          rows.push({ split: 'test', copy: 0, label: -1, path: rel(ctx.root, item.path) });
          if (flip) {
            variants.push(applyTransform(pixels, info.inputSize, { ...IDENTITY_TRANSFORM, flipHorizontal: true }));
            rows.push({ split: 'test', copy: 1, label: -1, path: rel(ctx.root, item.path) });
          }
        });
        for (let start = 0; start < variants.length; start += batchSize) {
          const chunk = variants.slice(start, start + batchSize);
          const out = await runner.run(toTensorInput(chunk, info.inputSize, info.preprocess), chunk.length);
          await writer.append(rows.slice(start, start + chunk.length), out.pooled);
        }
        meter.add(batch.items.length + batch.skipped.length);
        ctx.progress({ done: meter.done, total: images.length, message: meter.etaMessage(), metrics: { 'images/s': round(meter.rate(), 1) } });
      }
    } finally {
      await runner.dispose();
    }
    const meta = await writer.close();
    const report = {
      images: images.length,
      ids: images.map((img) => img.id),
      flipped: flip,
      rows: meta.rows,
      skipped: { count: skipped.length, files: skipped },
      engine: runner.engine,
      seconds: round(meter.seconds(), 2),
      imagesPerSecond: round(meter.rate(), 2),
    };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(`${images.length - skipped.length} test images featurised, ${skipped.length} skipped, ${report.seconds} s (${report.imagesPerSecond} images/s on ${runner.engine})`);
  },
});
