/**
 * Every quality figure docs/dogs-vs-cats.md (#results) states, recomputed
 * from the cached features of one run of the job: the default head (validation
 * and test), the validation choices of `train.lr` and `predict.clip`, and each
 * optimizer at Keras' default learning rate (adadelta as the notebook ran it).
 * Heads train exactly as the `train` stage trains them (lib/model/fit-head.ts), so
 * the default row equals artifacts/predict/metrics.json; the script checks it.
 *
 *   npx pipeline run features test-features   # once (the heavy part)
 *   npm run bench:quality                     # about a minute per 6 heads on 2 cores
 *
 * Options: `--project <dir>` (default: the repo), `--lrs 0.0003,0.001,0.003,0.01`, `--clips 0,0.001,0.005,0.01`.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { testPredictions } from '../stages/predict.ts';
import { setupBackend } from '../stages/lib/inference/backend.ts';
import { readLabels } from '../stages/lib/data/dataset.ts';
import { readClassList } from '../stages/lib/data/class-list.ts';
import { gatherRows, readFeatures } from '../stages/lib/inference/feature-store.ts';
import { fitHead, type FittedHead, type HeadHyperparameters } from '../stages/lib/model/fit-head.ts';
import {
  headProbabilities,
  KERAS_DEFAULT_LR,
  resolveLearningRate,
  type OptimizerName,
} from '../stages/lib/model/head.ts';
import { accuracy, clip, logLoss } from '../stages/lib/model/metrics.ts';
import { readParams } from '../stages/lib/stage/params.ts';
import { OPTIMIZERS } from '../stages/lib/stage/shared-params.ts';
import predictRules from '../stages/predict.params.ts';
import { checkParam } from 'pipeline-ml-engine';

const REPO = fileURLToPath(new URL('../', import.meta.url));

const { values: args } = parseArgs({
  options: {
    project: { type: 'string', default: REPO },
    lrs: { type: 'string', default: '0.0003,0.001,0.003,0.01' },
    clips: { type: 'string', default: '0,0.001,0.005,0.01' },
  },
});
const project = path.resolve(args.project);
const numbers = (list: string) => list.split(',').map(Number);

interface Params {
  data: { test_labels?: string };
  augment?: { copies?: number };
  model: { dropout: number };
  runtime: Record<string, unknown>;
  train: { optimizer: OptimizerName; lr: unknown; epochs: number; batch_size: number; patience: number; seed: number };
  predict: { clip: unknown; tta_flip: boolean };
}

const params = (parse(readFileSync(path.join(project, 'pipeline.yaml'), 'utf8')) as { params: Params }).params;
const art = (rel: string) => path.join(project, 'artifacts', rel);
for (const dir of ['features', 'test-features']) {
  if (!existsSync(path.join(art(dir), 'features.json'))) {
    console.error(`${art(dir)} is missing: run \`npx pipeline run features test-features\` in ${project} first`);
    process.exit(1);
  }
}
if (!params.data.test_labels) {
  console.error('data.test_labels is empty in pipeline.yaml: the test figures need labels');
  process.exit(1);
}

const runtimeParams = Object.fromEntries(Object.entries(params.runtime).map(([k, v]) => [`runtime.${k}`, v]));
const backend = await setupBackend(
  readParams({ params: runtimeParams, root: project, stage: 'bench:quality' }),
  () => {},
  (m) => console.error(m),
);
const train = await readFeatures(art('features'));
const test = await readFeatures(art('test-features'));
// The figures are the two-class job's (P(second class), binary log loss).
const classes = await readClassList(art('split/classes.json'));
if (classes.length !== 2) {
  console.error(
    `bench:quality scores two-class jobs; this project has ${classes.length} classes (${classes.join(', ')})`,
  );
  process.exit(1);
}
const labels = await readLabels(path.resolve(project, params.data.test_labels), classes);
const featuresReport = JSON.parse(readFileSync(path.join(art('features'), 'report.json'), 'utf8')) as {
  copies: number;
};

const defaults: HeadHyperparameters = {
  optimizer: params.train.optimizer,
  lr: resolveLearningRate(params.train.lr, params.train.optimizer).lr,
  epochs: params.train.epochs,
  batchSize: params.train.batch_size,
  dropout: params.model.dropout,
  patience: params.train.patience,
  seed: params.train.seed,
};
const clipCheck = checkParam('predict.clip', predictRules['predict.clip'], params.predict.clip);
if (!clipCheck.ok) throw new Error(clipCheck.message);
const defaultClip = clipCheck.value as number;
const tta = params.predict.tta_flip;

const valRows = train.rows.flatMap((r, i) => (r.split === 'val' && r.copy === 0 ? [i] : []));
const valLabels = valRows.map((r) => train.rows[r].label);
const valFeatures = gatherRows(train, valRows);

interface Scored {
  fitted: FittedHead;
  val: { loss: number; accuracy: number };
  test: { loss: number; accuracy: number };
  testImages: number;
}

const memo = new Map<string, Scored>();

/** Fits a head with `hp` on `table` and scores it: validation at the best epoch, test as predict does it (TTA, clip). */
async function score(hp: HeadHyperparameters, table = train, scheme = 'default'): Promise<Scored> {
  const key = JSON.stringify([hp, scheme]);
  const known = memo.get(key);
  if (known) return known;
  const fitted = await fitHead(table, hp);
  const byId = testPredictions(test, fitted.best.weights, tta);
  const scored = [...byId.entries()].filter(([id]) => labels.has(id));
  const y = scored.map(([id]) => labels.get(id)!);
  const p = scored.map(([, e]) => e.p[0]);
  const result: Scored = {
    fitted,
    val: { loss: fitted.best.val_loss, accuracy: fitted.best.val_accuracy },
    test: {
      loss: logLoss(
        y,
        p.map((v) => clip(v, defaultClip)),
      ),
      accuracy: accuracy(y, p),
    },
    testImages: y.length,
  };
  memo.set(key, result);
  return result;
}

const f4 = (x: number) => x.toFixed(4);
const started = Date.now();
console.log(
  `# Quality figures (${project}; features: ${train.rows.length} rows of ${train.dim}, augment.copies ${featuresReport.copies}; ` +
    `test: ${labels.size} labelled; TF.js ${backend})\n`,
);

// 1. The default job.
const base = await score(defaults);
console.log(
  `## Default head: ${defaults.optimizer} lr ${defaults.lr}, batch ${defaults.batchSize}, dropout ${defaults.dropout}, patience ${defaults.patience}, clip ${defaultClip}, TTA ${tta}\n`,
);
console.log('| | log loss | accuracy |\n|---|---|---|');
console.log(
  `| validation (${base.fitted.valRows} images, best epoch ${base.fitted.best.epoch}) | ${f4(base.val.loss)} | ${f4(base.val.accuracy)} |`,
);
console.log(`| test (${base.testImages} images) | **${f4(base.test.loss)}** | **${f4(base.test.accuracy)}** |`);
const metricsFile = art('predict/metrics.json');
if (existsSync(metricsFile)) {
  const m = JSON.parse(readFileSync(metricsFile, 'utf8')) as { log_loss: number; accuracy: number };
  const same = Math.abs(m.log_loss - base.test.loss) < 1e-5 && Math.abs(m.accuracy - base.test.accuracy) < 1e-9;
  console.log(
    `\nartifacts/predict/metrics.json: log loss ${f4(m.log_loss)}, accuracy ${f4(m.accuracy)} — ${same ? 'the same' : 'DIFFERENT (stale artifacts or other params?)'}`,
  );
}

// 2. train.lr, chosen on validation.
console.log(`\n## train.lr for ${defaults.optimizer} (chosen on validation: lowest val log loss)\n`);
console.log(
  '| train.lr | val log loss | val accuracy | best epoch | test log loss | test accuracy |\n|---|---|---|---|---|---|',
);
const lrRuns: [number, Scored][] = [];
for (const lr of numbers(args.lrs)) {
  const s = lr === defaults.lr ? base : await score({ ...defaults, lr });
  lrRuns.push([lr, s]);
}
const bestLr = lrRuns.reduce((a, b) => (b[1].val.loss < a[1].val.loss ? b : a))[0];
for (const [lr, s] of lrRuns) {
  const mark = lr === bestLr ? ' (lowest val)' : '';
  console.log(
    `| ${lr}${lr === KERAS_DEFAULT_LR[defaults.optimizer] ? " (Keras' default)" : ''}${mark} | ${f4(s.val.loss)} | ${f4(s.val.accuracy)} | ${s.fitted.best.epoch} | ${f4(s.test.loss)} | ${f4(s.test.accuracy)} |`,
  );
}

// 3. predict.clip, chosen on validation (the default head's val predictions, unflipped).
console.log('\n## predict.clip (on the default head)\n');
console.log('| predict.clip | val log loss | test log loss |\n|---|---|---|');
const valProbs = headProbabilities(valFeatures, train.dim, base.fitted.best.weights);
const testById = testPredictions(test, base.fitted.best.weights, tta);
const scoredTest = [...testById.entries()].filter(([id]) => labels.has(id));
for (const c of numbers(args.clips)) {
  const val = logLoss(
    valLabels,
    Array.from(valProbs, (v) => clip(v, c)),
  );
  const tst = logLoss(
    scoredTest.map(([id]) => labels.get(id)!),
    scoredTest.map(([, e]) => clip(e.p[0], c)),
  );
  console.log(`| ${c}${c === defaultClip ? ' (default)' : ''} | ${f4(val)} | ${f4(tst)} |`);
}

// 4. Each optimizer at Keras' default learning rate (train.lr unset / auto); adadelta is the notebook's.
console.log("\n## Optimizers at Keras' default learning rate (other params as the default job)\n");
console.log(
  '| optimizer | lr | val log loss | val accuracy | best epoch | test log loss | test accuracy |\n|---|---|---|---|---|---|---|',
);
for (const optimizer of OPTIMIZERS) {
  const lr = KERAS_DEFAULT_LR[optimizer];
  const hp = { ...defaults, optimizer, lr };
  const s = await score(hp);
  const note = optimizer === 'adadelta' ? ' (the notebook)' : '';
  console.log(
    `| ${optimizer}${note} | ${lr} | ${f4(s.val.loss)} | ${f4(s.val.accuracy)} | ${s.fitted.best.epoch} | ${f4(s.test.loss)} | ${f4(s.test.accuracy)} |`,
  );
}
// 5. How the augmented copies are used, on the same features.
console.log(
  `\n## Augmented copies (augment.copies ${featuresReport.copies}) and how training uses them (default head)\n`,
);
console.log(
  '| training rows per epoch | val log loss | val accuracy | test log loss | test accuracy |\n|---|---|---|---|---|',
);
// Every row its own "image": all versions every epoch, as before fresh draws.
const everyVersion = { ...train, rows: train.rows.map((r) => ({ ...r, path: `${r.path}#${r.copy}` })) };
const originals = train.rows.flatMap((r, i) => (r.copy === 0 ? [i] : []));
const originalsOnly = {
  dim: train.dim,
  rows: originals.map((i) => train.rows[i]),
  values: gatherRows(train, originals),
};
for (const [name, table, scheme] of [
  [`one of the ${1 + featuresReport.copies} versions of each image, drawn per epoch (default)`, train, 'default'],
  ['every version of each image, every epoch (fixed copies)', everyVersion, 'every-version'],
  ['the originals only (no augmentation)', originalsOnly, 'originals'],
] as const) {
  const s = await score(defaults, table, scheme);
  console.log(`| ${name} | ${f4(s.val.loss)} | ${f4(s.val.accuracy)} | ${f4(s.test.loss)} | ${f4(s.test.accuracy)} |`);
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
