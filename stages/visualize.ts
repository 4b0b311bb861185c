/**
 * visualize: class activation maps (Zhou et al. 2016) on the validation images
 * the model gets wrong or is least sure of, in both directions (cats taken for
 * dogs, dogs taken for cats), plus an HTML report of the run.
 *
 * Val probabilities come from the cached pooled features and the trained head
 * (no backbone pass); only the chosen few images go through the base again,
 * this time asking for the cut layer's maps.
 *
 * deps: train/, split/, build-model's backbone/, augment-config/, features/, predict/.
 * outs[0]: cam-grid.png, cam/<n>-<image>.png, curves.png, augment-preview.png, index.html, selection.csv.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage } from '../src/contract.ts';
import { classActivationMap } from './lib/cam.ts';
import { writeCsv } from './lib/csv.ts';
import { LABEL_NAMES, type Label } from './lib/dataset.ts';
import { FEATURES_META, gatherRows, readFeatures } from './lib/feature-store.ts';
import { headProbabilities, type HeadWeights } from './lib/head.ts';
import { decodeImage, toTensorInput } from './lib/images.ts';
import { BACKBONE_INFO, openBackboneRunner, readBackboneInfo } from './lib/inference.ts';
import { readParams } from './lib/params.ts';
import rules from './visualize.params.ts';
import { overlayHeatmap, writeGrid, writeRgbPng, type GridTile } from './lib/picture.ts';
import { depFolderWith, exists, findInDeps, outFolders } from './lib/stage-files.ts';

export interface Candidate {
  path: string;
  label: Label;
  /** P(dog). */
  p: number;
}

/**
 * The `perClass` cats with the highest P(dog) and the `perClass` dogs with the
 * lowest: misclassified ones first, then the least sure. Ordered most wrong first.
 */
export function selectHardest(items: readonly Candidate[], perClass: number): Candidate[] {
  const wrongness = (c: Candidate) => (c.label === 1 ? 1 - c.p : c.p);
  const pick = (label: Label) =>
    items
      .filter((c) => c.label === label)
      .sort((a, b) => wrongness(b) - wrongness(a) || a.path.localeCompare(b.path))
      .slice(0, perClass);
  return [...pick(0), ...pick(1)].sort((a, b) => wrongness(b) - wrongness(a) || a.path.localeCompare(b.path));
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
    const candidates = valRows.map((r, i) => ({ path: table.rows[r]!.path, label: table.rows[r]!.label as Label, p: probs[i]! }));
    const chosen = selectHardest(candidates, perClass);
    const wrong = candidates.filter((c) => (c.p > 0.5 ? 1 : 0) !== c.label).length;
    ctx.log(`${candidates.length} val images, ${wrong} misclassified; drawing CAMs for ${chosen.length}`);

    const runner = await openBackboneRunner(backboneDir, ctx.params, ctx);
    const tiles: GridTile[] = [];
    const rows: (string | number)[][] = [];
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
        const predicted: Label = out.pooled && headProbabilities(out.pooled, out.channels, head)[0]! > 0.5 ? 1 : 0;
        // CAM of the predicted class: what the model looked at to decide. "cat" evidence is −w.
        const weights = predicted === 1 ? head.kernel : head.kernel.map((w) => -w);
        const cam = classActivationMap(out.maps, out.mapHeight, out.mapWidth, weights);
        const picture = overlayHeatmap(pixels, info.inputSize, cam, out.mapHeight, out.mapWidth, alpha);
        const name = `${String(k + 1).padStart(2, '0')}-${path.basename(c.path, path.extname(c.path))}.png`;
        await writeRgbPng(picture, info.inputSize, info.inputSize, path.join(outDir, 'cam', name));
        const isWrong = predicted !== c.label;
        const caption = `${path.basename(c.path, path.extname(c.path))} P(dog) ${c.p.toFixed(2)}`;
        tiles.push({ pixels: picture, size: info.inputSize, caption, captionColor: isWrong ? 'crimson' : '#222' });
        rows.push([c.path, LABEL_NAMES[c.label], c.p.toFixed(6), LABEL_NAMES[predicted], isWrong ? 1 : 0, `cam/${name}`]);
        ctx.progress({ done: k + 1, total: chosen.length, message: `CAM ${k + 1}/${chosen.length}` });
      }
    } finally {
      await runner.dispose();
    }
    if (tiles.length > 0) {
      await writeGrid(tiles, cols, path.join(outDir, 'cam-grid.png'), {
        title: `CAM, hardest val images (${wrong}/${candidates.length} wrong)`,
      });
    }
    await writeCsv(path.join(outDir, 'selection.csv'), ['path', 'label', 'p_dog', 'predicted', 'wrong', 'cam'], rows);

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
    const html = report({ info, trainMetrics, testMetrics, curves, preview, grid: tiles.length > 0 ? 'cam-grid.png' : undefined, rows, wrong, total: candidates.length });
    await writeFile(path.join(outDir, 'index.html'), html);
    ctx.log('report written: index.html (with curves, augmentation preview, CAM grid and metrics)');
  },
});

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
      `<tr><th>cat</th><td>${confusion[0]![0]}</td><td>${confusion[0]![1]}</td></tr>` +
      `<tr><th>dog</th><td>${confusion[1]![0]}</td><td>${confusion[1]![1]}</td></tr></table>`
    : '';
  return `<h2>${escapeHtml(title)}</h2><table>${cells}</table>${matrix}`;
}

function report(r: {
  info: Awaited<ReturnType<typeof readBackboneInfo>>;
  trainMetrics?: Record<string, unknown>;
  testMetrics?: Record<string, unknown>;
  curves?: string;
  preview?: string;
  grid?: string;
  rows: (string | number)[][];
  wrong: number;
  total: number;
}): string {
  const img = (src: string | undefined, alt: string) => (src ? `<img src="${escapeHtml(src)}" alt="${escapeHtml(alt)}">` : `<p><em>${escapeHtml(alt)}: not available</em></p>`);
  const list = r.rows
    .map(
      (row) =>
        `<tr${row[4] ? ' class="wrong"' : ''}><td><a href="${escapeHtml(String(row[5]))}">${escapeHtml(path.basename(String(row[0])))}</a></td>` +
        `<td>${row[1]}</td><td>${row[2]}</td><td>${row[3]}</td></tr>`,
    )
    .join('');
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
<h2>Class activation maps</h2><p>${r.wrong} of ${r.total} validation images misclassified. Each map shows the evidence for the predicted class (red = strong).</p>
${img(r.grid, 'CAM grid')}
<table><tr><th>image</th><th>true</th><th>P(dog)</th><th>predicted</th></tr>${list}</table>
</body></html>
`;
}
