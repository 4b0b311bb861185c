/**
 * visualize: class activation maps (Zhou et al. 2016) of the model's actual
 * mistakes, as the notebook draws them (cats taken for dogs, dogs taken for
 * cats): the validation mistakes, and the test mistakes when test labels are
 * given; then, titled apart, the hardest images it got right. Plus an HTML
 * report of the run.
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
import { defineStage } from '../src/contract.ts';
import { classActivationMap } from './lib/model/cam.ts';
import { writeCsv } from './lib/data/csv.ts';
import { LABEL_NAMES, listUnlabelledImages, readLabels, type Label } from './lib/data/dataset.ts';
import { projectRelative } from './lib/stage/format.ts';
import { FEATURES_META, gatherRows, readFeatures } from './lib/inference/feature-store.ts';
import { headProbabilities, type HeadWeights } from './lib/model/head.ts';
import { decodeImage, toTensorInput } from './lib/data/images.ts';
import { BACKBONE_INFO, openBackboneRunner, readBackboneInfo } from './lib/inference/inference.ts';
import { readParams } from './lib/stage/params.ts';
import rules from './visualize.params.ts';
import { overlayHeatmap, writeGrid, writeRgbPng, type GridTile } from './lib/data/picture.ts';
import { readCsv } from './lib/data/csv.ts';
import { depFolderWith, exists, findInDeps, outFolders } from './lib/stage/stage-files.ts';

export type EvalSet = 'val' | 'test';

export interface Candidate {
  path: string;
  label: Label;
  /** P(dog), as reported (val: head on cached features; test: predict's, flip-averaged when TTA is on). */
  p: number;
  set: EvalSet;
}

export const isMistake = (c: Candidate): boolean => (c.p > 0.5 ? 1 : 0) !== c.label;
const wrongness = (c: Candidate) => (c.label === 1 ? 1 - c.p : c.p);
const mostWrongFirst = (a: Candidate, b: Candidate) => wrongness(b) - wrongness(a) || a.path.localeCompare(b.path);

export interface CamSelection {
  /** Mistakes to draw: val first, then test; within each, at most `perClass` per true class, most confident first. */
  mistakes: Candidate[];
  /** Mistakes left out by that cap. */
  mistakesNotDrawn: number;
  /** Correct images nearest the boundary, filling up to 2 × perClass drawings in all (balanced by true class). */
  hardestCorrect: Candidate[];
}

/**
 * What the CAM section draws: the actual mistakes first (the notebook's figure),
 * then the least sure correct images until there are 2 × perClass maps.
 */
export function selectForCam(items: readonly Candidate[], perClass: number): CamSelection {
  const mistakes: Candidate[] = [];
  let notDrawn = 0;
  for (const set of ['val', 'test'] as const) {
    for (const label of [0, 1] as const) {
      const wrong = items.filter((c) => c.set === set && c.label === label && isMistake(c)).sort(mostWrongFirst);
      mistakes.push(...wrong.slice(0, perClass));
      notDrawn += Math.max(0, wrong.length - perClass);
    }
  }
  const setOrder = (c: Candidate) => (c.set === 'val' ? 0 : 1);
  mistakes.sort((a, b) => setOrder(a) - setOrder(b) || mostWrongFirst(a, b));
  const room = Math.max(0, 2 * perClass - mistakes.length);
  const correct = (label: Label) => items.filter((c) => c.label === label && !isMistake(c)).sort(mostWrongFirst);
  const [cats, dogs] = [correct(0), correct(1)];
  const hardestCorrect: Candidate[] = [];
  // Alternate classes so both are shown, then take whichever is left.
  for (let k = 0; hardestCorrect.length < room && (k < cats.length || k < dogs.length); k++) {
    const pair = [cats[k], dogs[k]].filter((x): x is Candidate => x !== undefined).sort(mostWrongFirst);
    hardestCorrect.push(...pair.slice(0, room - hardestCorrect.length));
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
    const head = JSON.parse(await readFile(await findInDeps(ctx.deps, 'head.json', 'train'), 'utf8')) as HeadWeights;
    const trainDir = path.dirname(await findInDeps(ctx.deps, 'head.json', 'train'));
    const table = await readFeatures(await depFolderWith(ctx.deps, FEATURES_META, 'features'));
    const valRows = table.rows.flatMap((r, i) => (r.split === 'val' && r.copy === 0 ? [i] : []));
    const probs = headProbabilities(gatherRows(table, valRows), table.dim, head);
    const val: Candidate[] = valRows.map((r, i) => ({ path: table.rows[r].path, label: table.rows[r].label as Label, p: probs[i], set: 'val' }));
    const labelsFile = p.optionalPath('data.test_labels', 'file');
    const test = labelsFile
      ? await testCandidates(p.path('data.test_dir', 'folder'), labelsFile, await findInDeps(ctx.deps, 'predictions.csv', 'predict'), ctx.root)
      : [];
    const selection = selectForCam([...val, ...test], perClass);
    const count = (set: EvalSet) => {
      const all = set === 'val' ? val : test;
      return { total: all.length, wrong: all.filter(isMistake).length };
    };
    const counts = { val: count('val'), test: count('test') };
    ctx.log(
      `mistakes: val ${counts.val.wrong}/${counts.val.total}` +
        (labelsFile ? `, test ${counts.test.wrong}/${counts.test.total}` : ' (test unlabelled)') +
        `; drawing CAMs of ${selection.mistakes.length} mistake(s)` +
        (selection.mistakesNotDrawn ? ` (${selection.mistakesNotDrawn} more not drawn: at most ${perClass} per set and true class)` : '') +
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
        if (!out.maps || !out.mapHeight || !out.mapWidth) throw new Error(`the ${runner.engine} runner returned no feature maps; CAM needs them`);
        const predicted: Label = c.p > 0.5 ? 1 : 0;
        // CAM of the predicted class: what the model looked at to decide. "cat" evidence is −w.
        const weights = predicted === 1 ? head.kernel : head.kernel.map((w) => -w);
        const cam = classActivationMap(out.maps, out.mapHeight, out.mapWidth, weights);
        const picture = overlayHeatmap(pixels, info.inputSize, cam, out.mapHeight, out.mapWidth, alpha);
        const stemName = path.basename(c.path, path.extname(c.path));
        const name = `${String(k + 1).padStart(2, '0')}-${c.set}-${stemName}.png`;
        await writeRgbPng(picture, info.inputSize, info.inputSize, path.join(outDir, 'cam', name));
        const wrong = isMistake(c);
        const caption = `${c.set} ${stemName}: ${LABEL_NAMES[c.label]} P(dog) ${c.p.toFixed(2)}`; // fits a 299 px tile
        (wrong ? drawn.mistakes : drawn.correct).push({ pixels: picture, size: info.inputSize, caption, captionColor: wrong ? 'crimson' : '#222' });
        rows.push([c.set, c.path, LABEL_NAMES[c.label], c.p.toFixed(6), LABEL_NAMES[predicted], wrong ? 1 : 0, `cam/${name}`]);
        ctx.progress({ done: k + 1, total: chosen.length, message: `CAM ${k + 1}/${chosen.length}` });
      }
    } finally {
      await runner.dispose();
    }
    const scope = `val ${counts.val.wrong}/${counts.val.total}` + (labelsFile ? `, test ${counts.test.wrong}/${counts.test.total}` : '');
    const grids = {
      mistakes: drawn.mistakes.length > 0 ? MISTAKES_GRID : undefined,
      correct: drawn.correct.length > 0 ? CORRECT_GRID : undefined,
    };
    if (grids.mistakes) {
      await writeGrid(drawn.mistakes, cols, path.join(outDir, MISTAKES_GRID), { title: `CAM of the mistakes (${scope}); label = true class` });
    }
    if (grids.correct) {
      await writeGrid(drawn.correct, cols, path.join(outDir, CORRECT_GRID), { title: 'CAM of the hardest CORRECT images (not mistakes)' });
    }
    await writeCsv(path.join(outDir, 'selection.csv'), ['set', 'path', 'label', 'p_dog', 'predicted', 'wrong', 'cam'], rows);

    // The report embeds copies, so the folder stands on its own.
    const copied = async (from: string, to: string) => ((await exists(from)) ? (await copyFile(from, path.join(outDir, to)), to) : undefined);
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
    const html = report({ info, trainMetrics, testMetrics, curves, preview, grids, rows, scope, notDrawn: selection.mistakesNotDrawn });
    await writeFile(path.join(outDir, 'index.html'), html);
    ctx.log('report written: index.html (with curves, augmentation preview, CAMs of the mistakes and metrics)');
  },
});

export const MISTAKES_GRID = 'cam-mistakes.png';
export const CORRECT_GRID = 'cam-hardest-correct.png';

/** Test images with their label and predict's P(dog); images predict could not decode are left out. */
async function testCandidates(testDir: string, labelsFile: string, predictionsFile: string, root: string): Promise<Candidate[]> {
  const labels = await readLabels(labelsFile);
  const files = new Map((await listUnlabelledImages(testDir)).map((im) => [im.id, im.path]));
  const { records } = await readCsv(predictionsFile, ['id', 'p_dog', 'decoded']);
  return records.flatMap((r) => {
    const id = r['id'];
    const label = labels.get(id);
    const file = files.get(id);
    if (label === undefined || file === undefined || r['decoded'] !== '1') return [];
    return [{ path: projectRelative(root, file), label, p: Number(r['p_dog']), set: 'test' as const }];
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

function metricsTable(title: string, m: Record<string, unknown> | undefined): string {
  if (!m) return '';
  const cells = Object.entries(m)
    .filter(([, v]) => typeof v !== 'object' || v === null)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join('');
  const confusion = (m['confusion'] as { matrix?: number[][] } | undefined)?.matrix;
  const matrix = confusion
    ? `<table class="cm"><tr><th>true \\ predicted</th><th>cat</th><th>dog</th></tr>` +
      `<tr><th>cat</th><td>${confusion[0][0]}</td><td>${confusion[0][1]}</td></tr>` +
      `<tr><th>dog</th><td>${confusion[1][0]}</td><td>${confusion[1][1]}</td></tr></table>`
    : '';
  return `<h2>${escapeHtml(title)}</h2><table>${cells}</table>${matrix}`;
}

function report(r: {
  info: Awaited<ReturnType<typeof readBackboneInfo>>;
  trainMetrics?: Record<string, unknown>;
  testMetrics?: Record<string, unknown>;
  curves?: string;
  preview?: string;
  grids: { mistakes?: string; correct?: string };
  rows: (string | number)[][];
  scope: string;
  notDrawn: number;
}): string {
  const img = (src: string | undefined, alt: string) => (src ? `<img src="${escapeHtml(src)}" alt="${escapeHtml(alt)}">` : `<p><em>${escapeHtml(alt)}: not available</em></p>`);
  const list = (wrong: 0 | 1) =>
    '<table><tr><th>set</th><th>image</th><th>true</th><th>P(dog)</th><th>predicted</th></tr>' +
    r.rows
      .filter((row) => row[5] === wrong)
      .map(
        (row) =>
          `<tr${wrong ? ' class="wrong"' : ''}><td>${row[0]}</td><td><a href="${escapeHtml(String(row[6]))}">${escapeHtml(path.basename(String(row[1])))}</a></td>` +
          `<td>${row[2]}</td><td>${row[3]}</td><td>${row[4]}</td></tr>`,
      )
      .join('') +
    '</table>';
  const mistakes = r.grids.mistakes
    ? `${img(r.grids.mistakes, 'CAM of the mistakes')}${list(1)}${r.notDrawn ? `<p>${r.notDrawn} more mistake(s) not drawn.</p>` : ''}`
    : '<p>No mistakes to draw.</p>';
  const correct = r.grids.correct ? `<h3>Hardest correct images (not mistakes)</h3><p>The correct predictions nearest the 0.5 boundary.</p>${img(r.grids.correct, 'CAM of the hardest correct images')}${list(0)}` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dogs vs. Cats: run report</title>
<style>body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%;border:1px solid #ddd}table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
tr.wrong td{color:crimson}.cm td{text-align:right}</style></head><body>
<h1>Dogs vs. Cats: run report</h1>
<p>Backbone <code>${escapeHtml(r.info.backbone)}</code> cut at <code>${escapeHtml(r.info.cutLayer)}</code>
(${r.info.inputSize}×${r.info.inputSize} input, ${r.info.featureDim} features, ${r.info.params.base.toLocaleString('en')} frozen parameters), head GAP → Dropout → Dense(1, sigmoid).</p>
${metricsTable('Validation (best epoch)', r.trainMetrics)}
${metricsTable('Test', r.testMetrics)}
<h2>Training curves</h2>${img(r.curves, 'training curves')}
<h2>Augmentation preview</h2>${img(r.preview, 'augmentation preview')}
<h2>Class activation maps</h2><p>Misclassified: ${escapeHtml(r.scope)}. Each map shows the evidence for the predicted class (red = strong); captions give the set, the image, its true class and P(dog).</p>
<h3>Mistakes</h3>${mistakes}
${correct}
</body></html>
`;
}
