/**
 * visualize: class activation maps (Zhou et al. 2016) of the model's actual
 * mistakes, as the notebook draws them (cats taken for dogs, dogs taken for
 * cats; with N classes, per true class and spread over the classes they were
 * taken for): the validation mistakes, and the test mistakes when test labels
 * are given; then, titled apart, the hardest images it got right. Plus an HTML
 * report of the run (class counts, metrics, confusion matrices).
 *
 * Val probabilities come from the cached pooled features and the trained head,
 * test probabilities from predict's predictions.csv (no backbone pass); only the
 * chosen few images go through the base again, asking for the cut layer's maps.
 *
 * deps: train/, split/, build-model's backbone/, augment-config/, features/, predict/,
 *       data.test_dir and data.test_labels (for the test mistakes; left out when unlabelled).
 * outs[0]: cam-mistakes.png, cam-hardest-correct.png, cam/<n>-<image>.png, curves.png,
 *          augment-preview.png, index.html, selection.csv.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage } from 'pipeline-ml-engine';
import { classActivationMap } from './lib/model/cam.ts';
import { writeCsv } from './lib/data/csv.ts';
import { listUnlabelledImages, readLabels, type Label } from './lib/data/dataset.ts';
import { projectRelative } from './lib/stage/format.ts';
import { FEATURES_META, gatherRows, readFeatures } from './lib/inference/feature-store.ts';
import { headProbabilities } from './lib/model/head.ts';
import { decodeImage, toTensorInput } from './lib/data/images.ts';
import { BACKBONE_INFO, openBackboneRunner, readBackboneInfo } from './lib/inference/inference.ts';
import { readParams } from './lib/stage/params.ts';
import rules from './visualize.params.ts';
import { overlayHeatmap, writeGrid, writeRgbPng, type GridTile } from './lib/data/picture.ts';
import { readCsv } from './lib/data/csv.ts';
import { depFolderWith, exists, findInDeps, outFolders } from './lib/stage/stage-files.ts';
import { readTrainedHead, unitsOf } from './lib/model/head.ts';
import { camWeights } from './lib/model/cam.ts';
import { confusionMatrixOf, perClassAccuracy } from './lib/model/metrics.ts';

export type EvalSet = 'val' | 'test';

export interface Candidate {
  path: string;
  label: Label;
  /** Class probabilities, as reported (val: head on cached features; test: predict's, flip-averaged when TTA is on). */
  p: number[];
  set: EvalSet;
}

/** The most probable class (ties to the first; two classes: the second only above 0.5). */
export const predictedOf = (c: Candidate): Label => c.p.reduce((best, v, k) => (v > c.p[best] ? k : best), 0);
export const isMistake = (c: Candidate): boolean => predictedOf(c) !== c.label;
const wrongness = (c: Candidate) => 1 - c.p[c.label];
const mostWrongFirst = (a: Candidate, b: Candidate) => wrongness(b) - wrongness(a) || a.path.localeCompare(b.path);

/** Two classes: the head's P(second class) as both class probabilities. */
export const binaryProbabilities = (p: number): number[] => [1 - p, p];

export interface CamSelection {
  /** Mistakes to draw: val first, then test; within each, at most `perClass` per true class, most confident first. */
  mistakes: Candidate[];
  /** Mistakes left out by that cap. */
  mistakesNotDrawn: number;
  /** Correct images nearest the boundary, filling up to classes × perClass drawings in all (balanced by true class). */
  hardestCorrect: Candidate[];
}

/** Takes one from each list in turn (lists in the order given) until `n` are taken. */
function roundRobin<T>(lists: readonly (readonly T[])[], n: number): T[] {
  const out: T[] = [];
  for (let k = 0; out.length < n && lists.some((l) => k < l.length); k++) {
    for (const l of lists) if (k < l.length && out.length < n) out.push(l[k]);
  }
  return out;
}

/**
 * What the CAM section draws: the actual mistakes first (the notebook's figure),
 * then the least sure correct images until there are classes × perClass maps.
 * With more than two classes, a true class's mistakes are taken in turn from
 * each class they were taken for, so every confusion shows.
 */
export function selectForCam(items: readonly Candidate[], perClass: number, classes = 2): CamSelection {
  const mistakes: Candidate[] = [];
  let notDrawn = 0;
  for (const set of ['val', 'test'] as const) {
    for (let label = 0; label < classes; label++) {
      const wrong = items.filter((c) => c.set === set && c.label === label && isMistake(c)).sort(mostWrongFirst);
      const byPredicted = [...new Set(wrong.map(predictedOf))].map((k) => wrong.filter((c) => predictedOf(c) === k));
      mistakes.push(...roundRobin(byPredicted, perClass));
      notDrawn += Math.max(0, wrong.length - perClass);
    }
  }
  const setOrder = (c: Candidate) => (c.set === 'val' ? 0 : 1);
  mistakes.sort((a, b) => setOrder(a) - setOrder(b) || mostWrongFirst(a, b));
  const room = Math.max(0, classes * perClass - mistakes.length);
  const correct = (label: Label) => items.filter((c) => c.label === label && !isMistake(c)).sort(mostWrongFirst);
  const perLabel = Array.from({ length: classes }, (_, label) => correct(label));
  const hardestCorrect: Candidate[] = [];
  // Alternate classes so all are shown, then take whichever is left.
  for (let k = 0; hardestCorrect.length < room && perLabel.some((l) => k < l.length); k++) {
    const round = perLabel
      .map((l) => l[k])
      .filter((x): x is Candidate => x !== undefined)
      .sort(mostWrongFirst);
    hardestCorrect.push(...round.slice(0, room - hardestCorrect.length));
  }
  hardestCorrect.sort(mostWrongFirst);
  return { mistakes, mistakesNotDrawn: notDrawn, hardestCorrect };
}

export default defineStage({
  async run(ctx) {
    const [outDir] = await outFolders(ctx, ['artifacts/visualize']);
    await mkdir(path.join(outDir, 'cam'), { recursive: true });
    const p = readParams(ctx, rules);
    const perClass = p.integer('visualize.per_class');
    const cols = p.integer('visualize.cols');
    const alpha = p.number('visualize.alpha');

    const backboneDir = await depFolderWith(ctx.deps, BACKBONE_INFO, 'build-model');
    const info = await readBackboneInfo(backboneDir);
    const { classes, weights: head } = await readTrainedHead(await findInDeps(ctx.deps, 'head.json', 'train'));
    const units = unitsOf(head);
    const trainDir = path.dirname(await findInDeps(ctx.deps, 'head.json', 'train'));
    const table = await readFeatures(await depFolderWith(ctx.deps, FEATURES_META, 'features'));
    const valRows = table.rows.flatMap((r, i) => (r.split === 'val' && r.copy === 0 ? [i] : []));
    const probs = headProbabilities(gatherRows(table, valRows), table.dim, head);
    const rowOf = (i: number) =>
      units === 1 ? binaryProbabilities(probs[i]) : Array.from(probs.subarray(i * units, (i + 1) * units));
    const val: Candidate[] = valRows.map((r, i) => ({
      path: table.rows[r].path,
      label: table.rows[r].label,
      p: rowOf(i),
      set: 'val',
    }));
    const labelsFile = p.optionalPath('data.test_labels', 'file');
    const testLabels = labelsFile ? await readLabels(labelsFile, classes) : undefined;
    const test = testLabels
      ? await testCandidates(
          p.path('data.test_dir', 'folder'),
          testLabels,
          await findInDeps(ctx.deps, 'predictions.csv', 'predict'),
          ctx.root,
          classes,
        )
      : [];
    const selection = selectForCam([...val, ...test], perClass, classes.length);
    const count = (set: EvalSet) => {
      const all = set === 'val' ? val : test;
      return { total: all.length, wrong: all.filter(isMistake).length };
    };
    const counts = { val: count('val'), test: count('test') };
    ctx.log(
      `mistakes: val ${counts.val.wrong}/${counts.val.total}` +
        (labelsFile ? `, test ${counts.test.wrong}/${counts.test.total}` : ' (test unlabelled)') +
        `; drawing CAMs of ${selection.mistakes.length} mistake(s)` +
        (selection.mistakesNotDrawn
          ? ` (${selection.mistakesNotDrawn} more not drawn: at most ${perClass} per set and true class)`
          : '') +
        ` and the ${selection.hardestCorrect.length} hardest correct image(s)`,
    );

    const runner = await openBackboneRunner(backboneDir, readParams(ctx, rules), ctx);
    const drawn: { mistakes: GridTile[]; correct: GridTile[] } = { mistakes: [], correct: [] };
    const rows: (string | number)[][] = [];
    const chosen = [...selection.mistakes, ...selection.hardestCorrect];
    try {
      for (const [k, c] of chosen.entries()) {
        const file = path.resolve(ctx.root, c.path);
        let pixels: Uint8Array;
        try {
          pixels = await decodeImage(file, { size: info.inputSize });
        } catch (err) {
          ctx.warn(`skipped ${(err as Error).message}`);
          continue;
        }
        const out = await runner.run(toTensorInput([pixels], info.inputSize, info.preprocess), 1, { maps: true });
        if (!out.maps || !out.mapHeight || !out.mapWidth)
          throw new Error(`the ${runner.engine} runner returned no feature maps; CAM needs them`);
        const predicted = predictedOf(c);
        // CAM of the predicted class: what the model looked at to decide.
        const cam = classActivationMap(out.maps, out.mapHeight, out.mapWidth, camWeights(head, predicted));
        const picture = overlayHeatmap(pixels, info.inputSize, cam, out.mapHeight, out.mapWidth, alpha);
        const stemName = path.basename(c.path, path.extname(c.path));
        const name = `${String(k + 1).padStart(2, '0')}-${c.set}-${stemName}.png`;
        await writeRgbPng(picture, info.inputSize, info.inputSize, path.join(outDir, 'cam', name));
        const wrong = isMistake(c);
        // Fits a 299 px tile: two classes show P(second class), more the true → predicted class and its probability.
        const caption =
          units === 1
            ? `${c.set} ${stemName}: ${classes[c.label]} P(${classes[1]}) ${c.p[1].toFixed(2)}`
            : `${c.set} ${stemName}: ${classes[c.label]} → ${classes[predicted]} ${c.p[predicted].toFixed(2)}`;
        (wrong ? drawn.mistakes : drawn.correct).push({
          pixels: picture,
          size: info.inputSize,
          caption,
          captionColor: wrong ? 'crimson' : '#222',
        });
        const shown = units === 1 ? [c.p[1]] : c.p;
        rows.push([
          c.set,
          c.path,
          classes[c.label],
          ...shown.map((v) => v.toFixed(6)),
          classes[predicted],
          wrong ? 1 : 0,
          `cam/${name}`,
        ]);
        ctx.progress({ done: k + 1, total: chosen.length, message: `CAM ${k + 1}/${chosen.length}` });
      }
    } finally {
      await runner.dispose();
    }
    const scope =
      `val ${counts.val.wrong}/${counts.val.total}` +
      (labelsFile ? `, test ${counts.test.wrong}/${counts.test.total}` : '');
    const grids = {
      mistakes: drawn.mistakes.length > 0 ? MISTAKES_GRID : undefined,
      correct: drawn.correct.length > 0 ? CORRECT_GRID : undefined,
    };
    if (grids.mistakes) {
      await writeGrid(drawn.mistakes, cols, path.join(outDir, MISTAKES_GRID), {
        title: `CAM of the mistakes (${scope}); label = true class`,
      });
    }
    if (grids.correct) {
      await writeGrid(drawn.correct, cols, path.join(outDir, CORRECT_GRID), {
        title: 'CAM of the hardest CORRECT images (not mistakes)',
      });
    }
    const probColumns = units === 1 ? [`p_${classes[1]}`] : classes.map((c) => `p_${c}`);
    await writeCsv(
      path.join(outDir, 'selection.csv'),
      ['set', 'path', 'label', ...probColumns, 'predicted', 'wrong', 'cam'],
      rows,
    );

    // The report embeds copies, so the folder stands on its own.
    const copied = async (from: string, to: string) =>
      (await exists(from)) ? (await copyFile(from, path.join(outDir, to)), to) : undefined;
    const curves = await copied(path.join(trainDir, 'curves.png'), 'curves.png');
    const previewPath = await findInDeps(ctx.deps, 'preview.png', 'augment-config').catch(() => undefined);
    const preview = previewPath ? await copied(previewPath, 'augment-preview.png') : undefined;
    const trainMetrics = await readJson(path.join(trainDir, 'metrics.json'));
    // predict's metrics.json: the one not in train's folder (absent when the test set is unlabelled).
    let testMetricsPath: string | undefined;
    for (const dep of ctx.deps) {
      const candidate = path.join(dep, 'metrics.json');
      if (path.resolve(dep) !== path.resolve(trainDir) && (await exists(candidate))) testMetricsPath = candidate;
    }
    const testMetrics = testMetricsPath ? await readJson(testMetricsPath) : undefined;
    const split = await readJson(await findInDeps(ctx.deps, 'summary.json', 'split'));
    const valMatrix = confusionMatrixOf(
      val.map((c) => c.label),
      val.map(predictedOf),
      classes.length,
    );
    const testCounts = testLabels
      ? classes.map((_, k) => [...testLabels.values()].filter((l) => l === k).length)
      : undefined;
    const html = report({
      info,
      classes,
      split,
      testCounts,
      valMatrix,
      trainMetrics,
      testMetrics,
      curves,
      preview,
      grids,
      rows,
      probColumns,
      scope,
      notDrawn: selection.mistakesNotDrawn,
    });
    await writeFile(path.join(outDir, 'index.html'), html);
    ctx.log('report written: index.html (with curves, augmentation preview, CAMs of the mistakes and metrics)');
  },
});

export const MISTAKES_GRID = 'cam-mistakes.png';
export const CORRECT_GRID = 'cam-hardest-correct.png';

/** Test images with their label and predict's class probabilities; images predict could not decode are left out. */
async function testCandidates(
  testDir: string,
  labels: Map<string, Label>,
  predictionsFile: string,
  root: string,
  classes: readonly string[],
): Promise<Candidate[]> {
  const files = new Map((await listUnlabelledImages(testDir)).map((im) => [im.id, im.path]));
  const columns = classes.length === 2 ? [`p_${classes[1]}`] : classes.map((c) => `p_${c}`);
  const { records } = await readCsv(predictionsFile, ['id', ...columns, 'decoded']);
  return records.flatMap((r) => {
    const id = r['id'];
    const label = labels.get(id);
    const file = files.get(id);
    if (label === undefined || file === undefined || r['decoded'] !== '1') return [];
    const p = classes.length === 2 ? binaryProbabilities(Number(r[columns[0]])) : columns.map((c) => Number(r[c]));
    return [{ path: projectRelative(root, file), label, p, set: 'test' as const }];
  });
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  return readFile(file, 'utf8').then(
    (t) => JSON.parse(t) as Record<string, unknown>,
    () => undefined,
  );
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

/** A confusion matrix (rows = true class, columns = predicted) with each true class's accuracy. */
function matrixTable(classes: readonly string[], matrix: readonly (readonly number[])[]): string {
  const accuracy = perClassAccuracy(matrix);
  const head = `<tr><th>true \\ predicted</th>${classes.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}<th>accuracy</th></tr>`;
  const body = matrix
    .map(
      (row, k) =>
        `<tr><th>${escapeHtml(classes[k])}</th>${row.map((n) => `<td>${n}</td>`).join('')}<td>${accuracy[k] === null ? '–' : accuracy[k].toFixed(4)}</td></tr>`,
    )
    .join('');
  return `<table class="cm">${head}${body}</table>`;
}

function metricsTable(title: string, m: Record<string, unknown> | undefined, extra = ''): string {
  if (!m) return '';
  const cells = Object.entries(m)
    .filter(([, v]) => typeof v !== 'object' || v === null)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join('');
  const confusion = m['confusion'] as { labels?: string[]; matrix?: number[][] } | undefined;
  const matrix = confusion?.matrix && confusion.labels ? matrixTable(confusion.labels, confusion.matrix) : '';
  return `<h2>${escapeHtml(title)}</h2><table>${cells}</table>${matrix}${extra}`;
}

/** The classes with their image counts (all, train, val, and the test labels) and the imbalance. */
function classTable(
  classes: readonly string[],
  split: Record<string, unknown> | undefined,
  test: number[] | undefined,
): string {
  type Counts = { total: number; per_class: Record<string, number> };
  const sets = (['all', 'train', 'val'] as const).filter((k) => split?.[k]);
  if (!split || sets.length === 0) return `<h2>Classes</h2><p>${classes.map(escapeHtml).join(', ')}</p>`;
  const columns = [...sets.map((k) => (k === 'all' ? 'images' : k)), ...(test ? ['test (labelled)'] : [])];
  const cells = (c: string, k: number) => [
    ...sets.map((set) => (split[set] as Counts).per_class[c] ?? 0),
    ...(test ? [test[k]] : []),
  ];
  const body = classes
    .map(
      (c, k) =>
        `<tr><th>${escapeHtml(c)}</th>${cells(c, k)
          .map((n) => `<td>${n}</td>`)
          .join('')}</tr>`,
    )
    .join('');
  const totals = [
    ...sets.map((set) => (split[set] as Counts).total),
    ...(test ? [test.reduce((a, b) => a + b, 0)] : []),
  ];
  const imbalance =
    typeof split['imbalance'] === 'number'
      ? `<p>Imbalance (largest class over smallest): ${split['imbalance']}:1.</p>`
      : '';
  return (
    `<h2>Classes</h2><table class="cm"><tr><th>class</th>${columns.map((c) => `<th>${c}</th>`).join('')}</tr>${body}` +
    `<tr><th>total</th>${totals.map((n) => `<td>${n}</td>`).join('')}</tr></table>${imbalance}`
  );
}

function report(r: {
  info: Awaited<ReturnType<typeof readBackboneInfo>>;
  classes: string[];
  split?: Record<string, unknown>;
  testCounts?: number[];
  valMatrix: number[][];
  probColumns: string[];
  trainMetrics?: Record<string, unknown>;
  testMetrics?: Record<string, unknown>;
  curves?: string;
  preview?: string;
  grids: { mistakes?: string; correct?: string };
  rows: (string | number)[][];
  scope: string;
  notDrawn: number;
}): string {
  const img = (src: string | undefined, alt: string) =>
    src
      ? `<img src="${escapeHtml(src)}" alt="${escapeHtml(alt)}">`
      : `<p><em>${escapeHtml(alt)}: not available</em></p>`;
  // selection rows: set, path, true class, the probability columns, predicted, wrong, cam.
  const n = r.probColumns.length;
  const list = (wrong: 0 | 1) =>
    `<table><tr><th>set</th><th>image</th><th>true</th>${r.probColumns.map((c) => `<th>${escapeHtml(c.replace(/^p_(.*)$/, 'P($1)'))}</th>`).join('')}<th>predicted</th></tr>` +
    r.rows
      .filter((row) => row[4 + n] === wrong)
      .map(
        (row) =>
          `<tr${wrong ? ' class="wrong"' : ''}><td>${row[0]}</td><td><a href="${escapeHtml(String(row[5 + n]))}">${escapeHtml(path.basename(String(row[1])))}</a></td>` +
          `<td>${escapeHtml(String(row[2]))}</td>${row
            .slice(3, 3 + n)
            .map((v) => `<td>${v}</td>`)
            .join('')}<td>${escapeHtml(String(row[3 + n]))}</td></tr>`,
      )
      .join('') +
    '</table>';
  const title =
    r.classes.length === 2 && r.classes[0] === 'cat' && r.classes[1] === 'dog'
      ? 'Dogs vs. Cats'
      : r.classes.join(' · ');
  const headText =
    r.classes.length === 2 ? `Dense(1, sigmoid) giving P(${r.classes[1]})` : `Dense(${r.classes.length}, softmax)`;
  const mistakes = r.grids.mistakes
    ? `${img(r.grids.mistakes, 'CAM of the mistakes')}${list(1)}${r.notDrawn ? `<p>${r.notDrawn} more mistake(s) not drawn.</p>` : ''}`
    : '<p>No mistakes to draw.</p>';
  const correct = r.grids.correct
    ? `<h3>Hardest correct images (not mistakes)</h3><p>The correct predictions nearest the 0.5 boundary.</p>${img(r.grids.correct, 'CAM of the hardest correct images')}${list(0)}`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}: run report</title>
<style>body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%;border:1px solid #ddd}table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
tr.wrong td{color:crimson}.cm td{text-align:right}</style></head><body>
<h1>${escapeHtml(title)}: run report</h1>
<p>Backbone <code>${escapeHtml(r.info.backbone)}</code> cut at <code>${escapeHtml(r.info.cutLayer)}</code>
(${r.info.inputSize}×${r.info.inputSize} input, ${r.info.featureDim} features, ${r.info.params.base.toLocaleString('en')} frozen parameters), head GAP → Dropout → ${escapeHtml(headText)}.</p>
${classTable(r.classes, r.split, r.testCounts)}
${metricsTable('Validation (best epoch)', r.trainMetrics, matrixTable(r.classes, r.valMatrix))}
${metricsTable('Test', r.testMetrics)}
<h2>Training curves</h2>${img(r.curves, 'training curves')}
<h2>Augmentation preview</h2>${img(r.preview, 'augmentation preview')}
<h2>Class activation maps</h2><p>Misclassified: ${escapeHtml(r.scope)}. Each map shows the evidence for the predicted class (red = strong); captions give the set, the image, its true class and ${r.classes.length === 2 ? `P(${escapeHtml(r.classes[1])})` : 'the predicted class with its probability'}.</p>
<h3>Mistakes</h3>${mistakes}
${correct}
</body></html>
`;
}
