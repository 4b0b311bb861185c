/**
 * predict: class probabilities for every test image from the cached test
 * features (test-features) and the trained head, written as a Kaggle
 * submission sorted by numeric id: two classes give `id,label` with label =
 * P(second class) (P(dog) for the Kaggle data); N > 2 give `id,<class1>,…`,
 * one probability per class, each row adding up to exactly 1 as written.
 * No backbone pass here: a new head re-predicts the test set in about a second.
 * Options: `predict.clip` (clip to [c, 1−c]; 0/false = off; N classes: each
 * clipped, then the row renormalised) and `predict.tta_flip` (average with the
 * horizontally flipped image).
 * With `data.test_labels` set (class names or indices): metrics.json (log
 * loss, accuracy, confusion matrix; N classes: per-class accuracy too).
 *
 * deps: train/ (head.json), test-features/, the labels file.
 * outs[0]: submission.csv, predictions.csv (plain and flipped detail), report.json, metrics.json.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageUserError } from 'pipeline-ml-engine';
import type { StageContext } from 'pipeline-ml-engine';
import { writeCsv } from './lib/data/csv.ts';
import { naturalCompare, readLabels } from './lib/data/dataset.ts';
import { FEATURES_META, readFeatures, type FeatureTable } from './lib/inference/feature-store.ts';
import { round } from './lib/stage/format.ts';
import { headProbabilities, type HeadWeights } from './lib/model/head.ts';
import { accuracy, clip, confusion, confusionMatrix, logLoss } from './lib/model/metrics.ts';
import { readParams } from './lib/stage/params.ts';
import rules from './predict.params.ts';
import { depFolderWith, findInDeps, outFolders } from './lib/stage/stage-files.ts';
import { readTrainedHead, unitsOf } from './lib/model/head.ts';
import {
  categoricalAccuracy,
  categoricalLogLoss,
  clipRow,
  confusionMatrixOf,
  perClassAccuracy,
  predictedClasses,
} from './lib/model/metrics.ts';

/** Written for an image that cannot be decoded: Kaggle needs a row for every id, and 0.5 costs least when unsure. */
const UNDECIDED = 0.5;

/** The head's outputs for one image: [P(second class)] for two classes, one probability per class for more. */
export interface Prediction {
  p: number[];
  plain: number[];
  flipped?: number[];
}

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/predict']);
    const p = readParams(ctx, rules);
    const labelsFile = p.optionalPath('data.test_labels');
    const clipAt = p.number('predict.clip');
    const ttaFlip = p.flag('predict.tta_flip');
    const { classes, weights: head } = await readTrainedHead(await findInDeps(ctx.deps, 'head.json', 'train'));
    const featuresDir = await depFolderWith(ctx.deps, FEATURES_META, 'test-features');
    const table = await readFeatures(featuresDir);
    const testReport = JSON.parse(await readFile(path.join(featuresDir, 'report.json'), 'utf8')) as {
      ids: string[];
      skipped: { count: number; files: { id: string }[] };
      engine: string;
    };

    const byId = testPredictions(table, head, ttaFlip);
    const undecided = unitsOf(head) === 1 ? [UNDECIDED] : classes.map(() => 1 / classes.length);
    for (const s of testReport.skipped.files)
      ctx.warn(
        `test image ${s.id} could not be decoded; predicting ${undecided.map((u) => +u.toFixed(4)).join(' / ')}`,
      );

    const ids = sortIds(testReport.ids);
    const labels = labelsFile ? await readLabels(labelsFile, classes) : undefined;
    const common = { ctx, outDir, ids, byId, classes, clipAt, labels, labelsFile, skipped: testReport.skipped.count };
    const metrics = unitsOf(head) === 1 ? await writeBinary(common) : await writeMulticlass(common);
    const report = {
      images: ids.length,
      predicted: byId.size,
      skipped: testReport.skipped.count,
      classes,
      clip: clipAt,
      tta_flip: ttaFlip,
      engine: testReport.engine,
    };
    await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    ctx.log(
      `${byId.size} of ${ids.length} test images predicted (clip ${clipAt || 'off'}, flip TTA ${ttaFlip ? 'on' : 'off'})`,
    );
    if (metrics) {
      const full = { ...metrics, clip: clipAt, tta_flip: ttaFlip, engine: testReport.engine };
      await writeFile(path.join(outDir, 'metrics.json'), JSON.stringify(full, null, 2) + '\n');
      ctx.log(
        `test: log loss ${full.log_loss.toFixed(4)}, accuracy ${full.accuracy.toFixed(4)} on ${full.counts.scored} labelled images`,
      );
    }
  },
});

interface Outputs {
  ctx: StageContext;
  outDir: string;
  ids: string[];
  byId: Map<string, Prediction>;
  classes: string[];
  clipAt: number;
  labels?: Map<string, number>;
  labelsFile?: string;
  skipped: number;
}

type TestMetrics = {
  log_loss: number;
  accuracy: number;
  counts: { scored: number } & Record<string, unknown>;
} & Record<string, unknown>;

/** The labelled ids among `ids`, or an error when none is labelled; warns of the unlabelled. */
function scoredIds(o: Outputs, labels: Map<string, number>, labelsFile: string): { scored: string[]; missing: number } {
  const scored = o.ids.filter((id) => labels.has(id));
  const missing = o.ids.length - scored.length;
  if (scored.length === 0)
    throw new StageUserError(`${labelsFile} labels none of the ${o.ids.length} test ids (e.g. '${o.ids[0]}')`);
  if (missing > 0) o.ctx.warn(`${missing} test image(s) have no label in ${labelsFile} and are not scored`);
  return { scored, missing };
}

/** Two classes: `id,label` with label = P(second class), and binary metrics. */
async function writeBinary(o: Outputs): Promise<TestMetrics | undefined> {
  const { byId, classes, clipAt } = o;
  const final = o.ids.map((id) => ({ id, p: clip(byId.get(id)?.p[0] ?? UNDECIDED, clipAt) }));
  await writeCsv(
    path.join(o.outDir, 'submission.csv'),
    ['id', 'label'],
    final.map((r) => [r.id, formatProbability(r.p)]),
  );
  await writeCsv(
    path.join(o.outDir, 'predictions.csv'),
    ['id', `p_${classes[1]}`, 'p_plain', 'p_flipped', 'decoded'],
    o.ids.map((id) => {
      const r = byId.get(id);
      return [
        id,
        r ? formatProbability(r.p[0]) : '',
        r ? formatProbability(r.plain[0]) : '',
        r?.flipped !== undefined ? formatProbability(r.flipped[0]) : '',
        r ? 1 : 0,
      ];
    }),
  );
  if (!o.labels || !o.labelsFile) return undefined;
  const { missing } = scoredIds(o, o.labels, o.labelsFile);
  const scored = final.filter((r) => o.labels!.has(r.id));
  const y = scored.map((r) => o.labels!.get(r.id)!);
  const p = scored.map((r) => r.p);
  const unclipped = scored.map((r) => byId.get(r.id)?.p[0] ?? UNDECIDED);
  const c = confusion(y, p);
  const n = (k: number) => y.filter((v) => v === k).length;
  // The Kaggle classes keep the keys their metrics always had (cats, dogs); other pairs are counted by name.
  const perClass =
    classes[0] === 'cat' && classes[1] === 'dog'
      ? { cats: n(0), dogs: n(1) }
      : { per_class: { [classes[0]]: n(0), [classes[1]]: n(1) } };
  return {
    log_loss: round(logLoss(y, p), 6),
    accuracy: round(accuracy(y, p), 6),
    log_loss_unclipped: round(logLoss(y, unclipped), 6),
    confusion: { ...c, ...confusionMatrix(c, [classes[0], classes[1]]) },
    counts: { scored: scored.length, ...perClass, unlabelled: missing, skipped: o.skipped },
  };
}

/** N > 2 classes: `id,<class1>,…` rows adding up to 1 as written, and N-class metrics. */
async function writeMulticlass(o: Outputs): Promise<TestMetrics | undefined> {
  const { byId, classes, clipAt } = o;
  const uniform = classes.map(() => 1 / classes.length);
  const final = o.ids.map((id) => ({ id, p: clipRow(byId.get(id)?.p ?? uniform, clipAt) }));
  await writeCsv(
    path.join(o.outDir, 'submission.csv'),
    ['id', ...classes],
    final.map((r) => [r.id, ...formatDistribution(r.p)]),
  );
  const blank = classes.map(() => '');
  await writeCsv(
    path.join(o.outDir, 'predictions.csv'),
    [
      'id',
      ...classes.map((c) => `p_${c}`),
      'predicted',
      ...classes.map((c) => `plain_${c}`),
      ...classes.map((c) => `flipped_${c}`),
      'decoded',
    ],
    final.map(({ id, p }) => {
      const r = byId.get(id);
      return [
        id,
        ...(r ? p.map(formatProbability) : blank),
        r ? classes[predictedClasses(p, classes.length)[0]] : '',
        ...(r ? r.plain.map(formatProbability) : blank),
        ...(r?.flipped ? r.flipped.map(formatProbability) : blank),
        r ? 1 : 0,
      ];
    }),
  );
  if (!o.labels || !o.labelsFile) return undefined;
  const { missing } = scoredIds(o, o.labels, o.labelsFile);
  const scored = final.filter((r) => o.labels!.has(r.id));
  const y = scored.map((r) => o.labels!.get(r.id)!);
  const p = scored.flatMap((r) => r.p);
  const unclipped = scored.flatMap((r) => byId.get(r.id)?.p ?? uniform);
  const matrix = confusionMatrixOf(y, predictedClasses(p, classes.length), classes.length);
  const byClass = <T>(values: T[]) => Object.fromEntries(classes.map((c, k) => [c, values[k]]));
  return {
    log_loss: round(categoricalLogLoss(y, p, classes.length), 6),
    accuracy: round(categoricalAccuracy(y, p, classes.length), 6),
    log_loss_unclipped: round(categoricalLogLoss(y, unclipped, classes.length), 6),
    per_class_accuracy: byClass(perClassAccuracy(matrix).map((a) => (a === null ? null : round(a, 6)))),
    confusion: { labels: classes, matrix },
    counts: {
      scored: scored.length,
      per_class: byClass(classes.map((_, k) => y.filter((v) => v === k).length)),
      unlabelled: missing,
      skipped: o.skipped,
    },
  };
}

/**
 * The head's outputs for every test image by id from its cached features: plain, flipped, and the one
 * reported (their mean with `ttaFlip`); [P(second class)] for two classes, one probability per class for more.
 */
export function testPredictions(table: FeatureTable, head: HeadWeights, ttaFlip: boolean): Map<string, Prediction> {
  const units = unitsOf(head);
  const probs = headProbabilities(table.values, table.dim, head);
  const byId = new Map<string, Prediction>();
  table.rows.forEach((row, i) => {
    const id = idOf(row.path);
    const entry = byId.get(id) ?? { p: [], plain: [] };
    const out = Array.from(probs.subarray(i * units, (i + 1) * units));
    if (row.copy === 0) entry.plain = out;
    else entry.flipped = out;
    byId.set(id, entry);
  });
  if (ttaFlip && [...byId.values()].some((e) => e.flipped === undefined)) {
    throw new StageUserError(
      'predict.tta_flip is true but test-features holds no flipped images (its predict.tta_flip was false)',
    );
  }
  for (const e of byId.values())
    e.p = ttaFlip && e.flipped !== undefined ? e.plain.map((v, j) => (v + e.flipped![j]) / 2) : e.plain;
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

/**
 * A row of class probabilities with six decimals that add up to exactly 1 as
 * written: each is rounded down to a millionth and the millionths left over go
 * to the largest remainders (ties to the first class), so none moves by 1e-6 or more.
 */
export function formatDistribution(row: readonly number[]): string[] {
  const UNIT = 1_000_000;
  const sum = row.reduce((a, b) => a + b, 0);
  const scaled = row.map((p) => (p / sum) * UNIT);
  const micro = scaled.map(Math.floor);
  let left = UNIT - micro.reduce((a, b) => a + b, 0);
  const order = scaled.map((x, k) => [x - Math.floor(x), k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, k] of order) {
    if (left <= 0) break;
    micro[k]++;
    left--;
  }
  return micro.map((u) => `${Math.floor(u / UNIT)}.${String(u % UNIT).padStart(6, '0')}`);
}
