/**
 * predict: P(dog) for every image in `data.test_dir`, written as a Kaggle
 * submission (`id,label`, sorted by numeric id). The frozen base runs on the
 * chosen BackboneRunner (ONNX when exported) and the trained head is one dot
 * product, so the full TF.js model is never needed here.
 * Options: `predict.clip` (clip to [c, 1−c]; 0/false = off) and
 * `predict.tta_flip` (average with the horizontally flipped image).
 * With `data.test_labels` set: metrics.json (log loss, accuracy, confusion).
 *
 * deps: train/ (head.json), build-model's backbone/, the test folder, the labels file.
 * outs[0]: submission.csv, predictions.csv (unclipped, with flip detail), report.json, metrics.json.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage } from '../src/contract.ts';
import { applyTransform, IDENTITY_TRANSFORM } from './lib/augment.ts';
import { writeCsv } from './lib/csv.ts';
import { listUnlabelledImages, naturalCompare, readLabels, type UnlabelledImage } from './lib/dataset.ts';
import { headProbabilities, type HeadWeights } from './lib/head.ts';
import { imageBatches, toTensorInput } from './lib/images.ts';
import { BACKBONE_INFO, openBackboneRunner, readBackboneInfo } from './lib/inference.ts';
import { accuracy, clip, confusion, confusionMatrix, logLoss, parseClip } from './lib/metrics.ts';
import { depFolderWith, findInDeps } from './lib/stage-files.ts';
import { Throughput } from './lib/throughput.ts';

/** Written for an image that cannot be decoded: Kaggle needs a row for every id, and 0.5 costs least when unsure. */
const UNDECIDED = 0.5;

export default defineStage({
  async run(ctx) {
    const [outDir] = ctx.outs;
    if (!outDir) throw new Error('predict needs one out: the predict folder');
    await mkdir(outDir, { recursive: true });
    const testDir = path.resolve(ctx.root, String(ctx.params['data.test_dir'] ?? ''));
    const labelsParam = ctx.params['data.test_labels'];
    const labelsFile = labelsParam ? path.resolve(ctx.root, String(labelsParam)) : undefined;
    const clipAt = parseClip(ctx.params['predict.clip']);
    const ttaFlip = parseFlag(ctx.params['predict.tta_flip'], 'predict.tta_flip');
    const batchSize = positiveInt(ctx.params['runtime.batch_size'] ?? 16, 'runtime.batch_size');
    const backboneDir = await depFolderWith(ctx.deps, BACKBONE_INFO, 'build-model');
    const info = await readBackboneInfo(backboneDir);
    const head = JSON.parse(await readFile(await findInDeps(ctx.deps, 'head.json', 'train'), 'utf8')) as HeadWeights;

    const images = sortById(await listUnlabelledImages(testDir));
    const runner = await openBackboneRunner(backboneDir, ctx.params, ctx);
    const meter = new Throughput(images.length);
    const probs = new Map<string, { p: number; plain: number; flipped?: number }>();
    const skipped: { id: string; path: string; reason: string }[] = [];
    ctx.log(`${images.length} test images from ${rel(ctx.root, testDir)}; clip ${clipAt || 'off'}, flip TTA ${ttaFlip ? 'on' : 'off'}`);
    try {
      for await (const batch of imageBatches(images, { size: info.inputSize, batchSize })) {
        for (const s of batch.skipped) {
          ctx.warn(`skipped ${s.message}; predicting ${UNDECIDED}`);
          skipped.push({ id: s.item.id, path: rel(ctx.root, s.item.path), reason: s.reason });
        }
        if (batch.items.length > 0) {
          const plain = await probabilities(batch.pixels);
          const flipped = ttaFlip
            ? await probabilities(batch.pixels.map((px) => applyTransform(px, info.inputSize, { ...IDENTITY_TRANSFORM, flipHorizontal: true })))
            : undefined;
          batch.items.forEach((item, i) => {
            const p = flipped ? (plain[i]! + flipped[i]!) / 2 : plain[i]!;
            probs.set(item.id, { p, plain: plain[i]!, flipped: flipped?.[i] });
          });
        }
        meter.add(batch.items.length + batch.skipped.length);
        ctx.progress({ done: meter.done, total: images.length, message: meter.message('images'), metrics: { 'images/s': round(meter.rate(), 1) } });
      }
    } finally {
      await runner.dispose();
    }

    async function probabilities(pixels: Uint8Array[]): Promise<Float32Array> {
      const out = await runner.run(toTensorInput(pixels, info.inputSize, info.preprocess), pixels.length);
      return headProbabilities(out.pooled, out.channels, head);
    }

    const final = images.map((img) => ({ id: img.id, p: clip(probs.get(img.id)?.p ?? UNDECIDED, clipAt) }));
    await writeCsv(path.join(outDir, 'submission.csv'), ['id', 'label'], final.map((r) => [r.id, formatProbability(r.p)]));
    await writeCsv(
      path.join(outDir, 'predictions.csv'),
      ['id', 'p_dog', 'p_plain', 'p_flipped', 'decoded'],
      images.map((img) => {
        const r = probs.get(img.id);
        return [img.id, r ? formatProbability(r.p) : '', r ? formatProbability(r.plain) : '', r?.flipped !== undefined ? formatProbability(r.flipped) : '', r ? 1 : 0];
      }),
    );
    const report = {
      images: images.length,
      predicted: probs.size,
      skipped: { count: skipped.length, files: skipped },
      engine: runner.engine,
      clip: clipAt,
      tta_flip: ttaFlip,
      seconds: round(meter.seconds(), 2),
      imagesPerSecond: round(meter.rate(), 2),
    };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(`${probs.size} predicted, ${skipped.length} skipped, ${report.seconds} s (${report.imagesPerSecond} images/s on ${runner.engine})`);

    if (labelsFile) {
      const labels = await readLabels(labelsFile);
      const scored = final.filter((r) => labels.has(r.id));
      const missing = final.length - scored.length;
      if (scored.length === 0) throw new Error(`${labelsFile} labels none of the ${final.length} test ids (e.g. '${final[0]?.id}')`);
      if (missing > 0) ctx.warn(`${missing} test image(s) have no label in ${rel(ctx.root, labelsFile)} and are not scored`);
      const y = scored.map((r) => labels.get(r.id)!);
      const p = scored.map((r) => r.p);
      const unclipped = scored.map((r) => probs.get(r.id)?.p ?? UNDECIDED);
      const c = confusion(y, p);
      const metrics = {
        log_loss: round(logLoss(y, p), 6),
        accuracy: round(accuracy(y, p), 6),
        log_loss_unclipped: round(logLoss(y, unclipped), 6),
        confusion: { ...c, ...confusionMatrix(c) },
        counts: { scored: scored.length, cats: y.filter((v) => v === 0).length, dogs: y.filter((v) => v === 1).length, unlabelled: missing, skipped: skipped.length },
        clip: clipAt,
        tta_flip: ttaFlip,
        engine: runner.engine,
        backbone: info.backbone,
      };
      await writeFile(path.join(outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
      ctx.log(`test: log loss ${metrics.log_loss.toFixed(4)}, accuracy ${metrics.accuracy.toFixed(4)} on ${scored.length} labelled images`);
    }
  },
});

/** Numeric ids in numeric order (Kaggle's `1, 2, …, 10`), anything else in natural order after them. */
export function sortById<T extends UnlabelledImage>(images: readonly T[]): T[] {
  const numeric = (id: string) => (/^\d+$/.test(id) ? Number(id) : Number.NaN);
  return images.slice().sort((a, b) => {
    const [x, y] = [numeric(a.id), numeric(b.id)];
    if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
    if (!Number.isNaN(x)) return -1;
    if (!Number.isNaN(y)) return 1;
    return naturalCompare(a.id, b.id);
  });
}

/** Six decimals: enough for log loss at the 1e-6 level, short enough to read. */
export function formatProbability(p: number): string {
  return p.toFixed(6);
}

function parseFlag(value: unknown, name: string): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (value === true || value === 1) return true;
  throw new Error(`${name} must be true or false; got '${String(value)}'`);
}

function positiveInt(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer; got '${String(value)}'`);
  return n;
}

function rel(root: string, p: string): string {
  return path.relative(root, p).split(path.sep).join('/');
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
