/**
 * predict: P(dog) for every test image from the cached test features
 * (test-features) and the trained head, written as a Kaggle submission
 * (`id,label`, sorted by numeric id). No backbone pass here: a new head
 * re-predicts the test set in about a second.
 * Options: `predict.clip` (clip to [c, 1−c]; 0/false = off) and
 * `predict.tta_flip` (average with the horizontally flipped image).
 * With `data.test_labels` set: metrics.json (log loss, accuracy, confusion).
 *
 * deps: train/ (head.json), test-features/, the labels file.
 * outs[0]: submission.csv, predictions.csv (plain and flipped detail), report.json, metrics.json.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageUserError } from '../src/contract.ts';
import { writeCsv } from './lib/data/csv.ts';
import { naturalCompare, readLabels } from './lib/data/dataset.ts';
import { FEATURES_META, readFeatures, type FeatureTable } from './lib/inference/feature-store.ts';
import { round } from './lib/stage/format.ts';
import { headProbabilities, type HeadWeights } from './lib/model/head.ts';
import { accuracy, clip, confusion, confusionMatrix, logLoss } from './lib/model/metrics.ts';
import { readParams } from './lib/stage/params.ts';
import rules from './predict.params.ts';
import { depFolderWith, findInDeps, outFolders } from './lib/stage/stage-files.ts';

/** Written for an image that cannot be decoded: Kaggle needs a row for every id, and 0.5 costs least when unsure. */
const UNDECIDED = 0.5;

export interface Prediction {
  p: number;
  plain: number;
  flipped?: number;
}

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/predict']);
    const p = readParams(ctx, rules);
    const labelsFile = p.optionalPath('data.test_labels');
    const clipAt = p.number('predict.clip');
    const ttaFlip = p.flag('predict.tta_flip');
    const head = JSON.parse(await readFile(await findInDeps(ctx.deps, 'head.json', 'train'), 'utf8')) as HeadWeights;
    const featuresDir = await depFolderWith(ctx.deps, FEATURES_META, 'test-features');
    const table = await readFeatures(featuresDir);
    const testReport = JSON.parse(await readFile(path.join(featuresDir, 'report.json'), 'utf8')) as {
      ids: string[];
      skipped: { count: number; files: { id: string }[] };
      engine: string;
    };

    const byId = testPredictions(table, head, ttaFlip);
    for (const s of testReport.skipped.files) ctx.warn(`test image ${s.id} could not be decoded; predicting ${UNDECIDED}`);

    const ids = sortIds(testReport.ids);
    const final = ids.map((id) => ({ id, p: clip(byId.get(id)?.p ?? UNDECIDED, clipAt) }));
    await writeCsv(path.join(outDir, 'submission.csv'), ['id', 'label'], final.map((r) => [r.id, formatProbability(r.p)]));
    await writeCsv(
      path.join(outDir, 'predictions.csv'),
      ['id', 'p_dog', 'p_plain', 'p_flipped', 'decoded'],
      ids.map((id) => {
        const r = byId.get(id);
        return [id, r ? formatProbability(r.p) : '', r ? formatProbability(r.plain) : '', r?.flipped !== undefined ? formatProbability(r.flipped) : '', r ? 1 : 0];
      }),
    );
    const report = { images: ids.length, predicted: byId.size, skipped: testReport.skipped.count, clip: clipAt, tta_flip: ttaFlip, engine: testReport.engine };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(`${byId.size} of ${ids.length} test images predicted (clip ${clipAt || 'off'}, flip TTA ${ttaFlip ? 'on' : 'off'})`);

    if (labelsFile) {
      const labels = await readLabels(labelsFile);
      const scored = final.filter((r) => labels.has(r.id));
      const missing = final.length - scored.length;
      if (scored.length === 0) throw new StageUserError(`${labelsFile} labels none of the ${final.length} test ids (e.g. '${final[0]?.id}')`);
      if (missing > 0) ctx.warn(`${missing} test image(s) have no label in ${labelsFile} and are not scored`);
      const y = scored.map((r) => labels.get(r.id)!);
      const p = scored.map((r) => r.p);
      const unclipped = scored.map((r) => byId.get(r.id)?.p ?? UNDECIDED);
      const c = confusion(y, p);
      const metrics = {
        log_loss: round(logLoss(y, p), 6),
        accuracy: round(accuracy(y, p), 6),
        log_loss_unclipped: round(logLoss(y, unclipped), 6),
        confusion: { ...c, ...confusionMatrix(c) },
        counts: { scored: scored.length, cats: y.filter((v) => v === 0).length, dogs: y.filter((v) => v === 1).length, unlabelled: missing, skipped: testReport.skipped.count },
        clip: clipAt,
        tta_flip: ttaFlip,
        engine: testReport.engine,
      };
      await writeFile(path.join(outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
      ctx.log(`test: log loss ${metrics.log_loss.toFixed(4)}, accuracy ${metrics.accuracy.toFixed(4)} on ${scored.length} labelled images`);
    }
  },
});

/** P(dog) of every test image by id from its cached features: plain, flipped, and the one reported (their mean with `ttaFlip`). */
export function testPredictions(table: FeatureTable, head: HeadWeights, ttaFlip: boolean): Map<string, Prediction> {
  const probs = headProbabilities(table.values, table.dim, head);
  const byId = new Map<string, Prediction>();
  table.rows.forEach((row, i) => {
    const id = idOf(row.path);
    const entry = byId.get(id) ?? { p: Number.NaN, plain: Number.NaN };
    if (row.copy === 0) entry.plain = probs[i]!;
    else entry.flipped = probs[i]!;
    byId.set(id, entry);
  });
  if (ttaFlip && [...byId.values()].some((e) => e.flipped === undefined)) {
    throw new StageUserError('predict.tta_flip is true but test-features holds no flipped images (its predict.tta_flip was false)');
  }
  for (const e of byId.values()) e.p = ttaFlip && e.flipped !== undefined ? (e.plain + e.flipped) / 2 : e.plain;
  return byId;
}

/** The id of a test image: its file name without extension (`../test/12.jpg` → `12`). */
function idOf(p: string): string {
  const base = p.split('/').pop()!;
  return base.slice(0, base.length - path.extname(base).length);
}

/** Numeric ids in numeric order (Kaggle's `1, 2, …, 10`), anything else in natural order after them. */
export function sortIds(ids: readonly string[]): string[] {
  const numeric = (id: string) => (/^\d+$/.test(id) ? Number(id) : Number.NaN);
  return ids.slice().sort((a, b) => {
    const [x, y] = [numeric(a), numeric(b)];
    if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
    if (!Number.isNaN(x)) return -1;
    if (!Number.isNaN(y)) return 1;
    return naturalCompare(a, b);
  });
}

/** Six decimals: enough for log loss at the 1e-6 level, short enough to read. */
export function formatProbability(p: number): string {
  return p.toFixed(6);
}
