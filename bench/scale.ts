/**
 * Kaggle's full size on one machine: a 25,000-photo train folder and a
 * 12,500-photo test folder made from the shared photos (each copy gets a few
 * bytes appended after the JPEG's end, so every file hashes differently while
 * decoding to the same pixels), run with the smallest MobileNet in a temp
 * project. Prints wall time and peak RSS of every stage (`pipeline run STAGE`
 * one at a time under /usr/bin/time, so the peak is the stage's child and the
 * engine together) for:
 *   1. the first run;
 *   2. the rerun after data.seed changes (target: no backbone pass, < 60 s);
 *   3. the rerun after adding BENCH_ADD photos (target: only their passes);
 *   4. features rerun after a SIGKILL at 50% of a run with an empty store
 *      (target: the remaining half only);
 * then the projected first run with the Xception cut from its raw onnxruntime
 * rate measured here on the same batch size.
 *
 *   npm run bench:scale                      # full size (heavy: tens of minutes on 2 cores)
 *   BENCH_TRAIN=2000 BENCH_TEST=1000 BENCH_ADD=100 npm run bench:scale
 *   BENCH_KILL=0 skips step 4; BENCH_KEEP=1 keeps the temp project.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBackbone } from '../stages/lib/inference/backbone.ts';
import { decodeImage, imageBatches, toTensorInput } from '../stages/lib/data/images.ts';
import { buildOnnxModel } from '../stages/lib/inference/onnx/export.ts';
import { encodeModel } from '../stages/lib/inference/onnx/protobuf.ts';
import { OnnxRunner } from '../stages/lib/inference/onnx/runner.ts';
import { jobPipelineYaml } from '../test/job-pipeline.ts';
import type { RunFigures } from '../packages/engine/src/contract.ts';
import { listRuns } from '../packages/engine/src/experiments/run-record.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SHARED = path.resolve(REPO, '../shared');
const TRAIN_SRC = path.join(SHARED, 'datasets/dogs-vs-cats/train');
const TEST_SRC = path.join(SHARED, 'datasets/dogs-vs-cats/test');
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const TRAIN = env('BENCH_TRAIN', 25_000);
const TEST = env('BENCH_TEST', 12_500);
const ADD = env('BENCH_ADD', 500);
const KILL = env('BENCH_KILL', 1) !== 0;
const BATCH = 16;
const STAGES = ['split', 'augment-config', 'build-model', 'features', 'test-features', 'train', 'predict', 'visualize'];

const dir = mkdtempSync(path.join(tmpdir(), 'pipeline-scale-'));

/** `count` files named by `name(k)`, cycling through `sources`, each with its own trailing bytes. */
function makeCopies(
  sources: string[],
  count: number,
  into: string,
  name: (k: number, source: string) => string,
  from = 0,
): void {
  mkdirSync(into, { recursive: true });
  for (let k = from; k < from + count; k++) {
    const source = sources[k % sources.length];
    const target = path.join(into, name(k, source));
    copyFileSync(source, target);
    appendFileSync(target, `\nscale-bench copy ${k}\n`); // after the JPEG's end marker: same pixels, another hash
  }
}

const ofClass = (label: string) =>
  readdirSync(TRAIN_SRC)
    .filter((f) => new RegExp(`^${label}\\.\\d+\\.jpg$`).test(f))
    .sort()
    .map((f) => path.join(TRAIN_SRC, f));
/** Cats and dogs alternating, so any prefix (and so any folder size) holds both classes. */
const trainSources = ((cats, dogs) => cats.flatMap((cat, i) => (dogs[i] ? [cat, dogs[i]] : [cat])))(
  ofClass('cat'),
  ofClass('dog'),
);
const testSources = readdirSync(TEST_SRC)
  .filter((f) => /^\d+\.jpg$/.test(f))
  .sort()
  .map((f) => path.join(TEST_SRC, f));
const trainName = (k: number, source: string) => `${path.basename(source).split('.')[0]}.${k}.jpg`;

function pipelineYaml(): string {
  return jobPipelineYaml({
    data: { train_dir: 'data/train', test_dir: 'data/test', test_labels: '', val_fraction: 0.1, seed: 42 },
    augment: { copies: 1, seed: 42 },
    model: {
      backbone: path.join(SHARED, 'models/mobilenet_v1_0.25_224'),
      cut_layer: 'conv_pw_13_relu',
      input_size: 224,
      preprocess: 'tf',
    },
    runtime: { inference: 'onnx', device: 'cpu', threads: 0, batch_size: BATCH },
    train: { lr: 0.003, epochs: 3, batch_size: 32, patience: 0, seed: 42 },
  });
}

interface StageRun {
  stage: string;
  seconds: number;
  rssMiB: number;
  note: string;
}

/** What `stage` reported (ctx.report) the last time it ran, from the run records. */
function lastFigures(stage: string): RunFigures | undefined {
  return listRuns(path.join(dir, '.pipeline'))
    .reverse()
    .find((run) => run.stages[stage]?.figures)?.stages[stage]!.figures;
}

function storeNote(stage: string): string {
  const f = stage.includes('features') ? lastFigures(stage) : undefined;
  return f
    ? `${f.fromStore.toLocaleString('en')} from the store, ${f.computed.toLocaleString('en')} passes${f.computed ? ` at ${f.imagesPerSecond} /s` : ''}`
    : '';
}

/** `pipeline run STAGE` per stage under /usr/bin/time: wall time and the peak RSS of the engine and the stage. */
function runStages(label: string, args: string[] = [], stages = STAGES): StageRun[] {
  const runs: StageRun[] = [];
  for (const stage of stages) {
    const r = spawnSync(
      '/usr/bin/time',
      ['-f', '%e %M', process.execPath, path.join(REPO, 'packages/engine/bin/pipeline.js'), 'run', stage, ...args],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, CI: '1' },
        maxBuffer: 256 << 20,
      },
    );
    const [seconds, kb] = (r.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    if (r.status !== 0)
      throw new Error(`${label}: pipeline run ${stage} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    // The engine's result line for the target stage: "✔ features  ran (…)", "· features  skipped …", "↺ … restored …".
    const outcome = new RegExp(`^[✔·↺] ${stage} +(ran|skipped|restored)`, 'm').exec(r.stdout)?.[1] ?? '?';
    runs.push({
      stage,
      seconds: seconds,
      rssMiB: kb / 1024,
      note: outcome === 'ran' ? storeNote(stage) || 'ran' : outcome,
    });
  }
  const total = runs.reduce((s, r) => s + r.seconds, 0);
  console.log(
    `\n### ${label} (${total.toFixed(1)} s)\n\n| stage | s | peak RSS MiB | outcome / feature store |\n|---|---|---|---|`,
  );
  for (const r of runs) console.log(`| ${r.stage} | ${r.seconds.toFixed(1)} | ${r.rssMiB.toFixed(0)} | ${r.note} |`);
  return runs;
}

/** features with an empty store, SIGKILLed (the engine) once half its passes are committed, then rerun. */
async function killAtHalf(): Promise<void> {
  const store = path.join(dir, '.pipeline/stage-cache/features/feature-store/v1');
  const figures = lastFigures('features')!;
  const passes = figures.fromStore + figures.computed;
  rmSync(store, { recursive: true, force: true });
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [path.join(REPO, 'packages/engine/bin/pipeline.js'), 'run', 'features', '--force'],
    { cwd: dir, env: { ...process.env, CI: '1' }, stdio: 'ignore' },
  );
  let ended = false;
  child.on('exit', () => (ended = true));
  // Each committed segment is one backbone batch of BATCH rows.
  const committed = () => (existsSync(store) ? readdirSync(store).filter((f) => f.endsWith('.seg')).length * BATCH : 0);
  while (!ended && committed() < passes / 2) await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGKILL');
  console.log(
    `\n### SIGKILL of \`pipeline run features --force\` (empty store) after ${((Date.now() - started) / 1000).toFixed(1)} s, ~${committed()} of ${passes} passes committed`,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const rerun = runStages('features rerun after the SIGKILL', ['--force'], ['features'])[0];
  console.log(`\nfeatures after the kill: ${rerun.seconds.toFixed(1)} s, ${rerun.note}`);
}

/** Raw onnxruntime on `count` shared photos at batch BATCH: decode + forward (decode of the next batch overlapping, as in the stage) and forward alone (best of 3). */
async function rawRate(
  folder: string,
  cut: string,
  size: number,
  count: number,
): Promise<{ e2e: number; fwd: number }> {
  const model = await loadBackbone(path.join(SHARED, 'models', folder), { cutLayer: cut });
  const runner = await OnnxRunner.open(encodeModel(buildOnnxModel(model).model), { inputSize: size });
  model.dispose();
  const items = trainSources.slice(0, count).map((p) => ({ path: p }));
  await runner.run(toTensorInput([await decodeImage(items[0].path, { size })], size, 'tf'), 1);
  const t0 = performance.now();
  let first: Float32Array | undefined;
  for await (const batch of imageBatches(items, { size, batchSize: BATCH })) {
    const input = toTensorInput(batch.pixels, size, 'tf');
    await runner.run(input, batch.pixels.length);
    first ??= input;
  }
  const e2e = count / ((performance.now() - t0) / 1000);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await runner.run(first!, BATCH);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  await runner.dispose();
  return { e2e, fwd: BATCH / best };
}

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `bench:scale: ${TRAIN.toLocaleString('en')} train + ${TEST.toLocaleString('en')} test photos, mobilenet_v1_0.25_224 on onnxruntime, batch ${BATCH}; ${os.availableParallelism()} cores (${cpu}), Node ${process.version}`,
  );
  console.log(`project: ${dir}`);
  makeCopies(trainSources, TRAIN, path.join(dir, 'data/train'), trainName);
  makeCopies(testSources, TEST, path.join(dir, 'data/test'), (k) => `${k + 1}.jpg`);
  symlinkSync(path.join(REPO, 'stages'), path.join(dir, 'stages'), 'dir');
  writeFileSync(path.join(dir, 'pipeline.yaml'), pipelineYaml());

  runStages('first run');
  const passes = { train: lastFigures('features')!.computed, test: lastFigures('test-features')!.computed };
  runStages('rerun after data.seed 42 → 43', ['--set', 'data.seed=43']);
  makeCopies(trainSources, ADD, path.join(dir, 'data/train'), trainName, TRAIN);
  runStages(`rerun after adding ${ADD} photos`, ['--set', 'data.seed=43']);
  if (KILL) await killAtHalf();

  const mobile = await rawRate('mobilenet_v1_0.25_224', 'conv_pw_13_relu', 224, 1024);
  console.log(
    `\nraw onnxruntime, mobilenet_v1_0.25_224, batch ${BATCH}, 1,024 photos: ${mobile.e2e.toFixed(1)} images/s decode + forward, ${mobile.fwd.toFixed(0)} forward only; ` +
      `the stages' rates above are backbone passes/s (an augmented copy reuses its original's decode)`,
  );
  const xception = await rawRate('xception_block13_299', 'add_12', 299, 64);
  const all = passes.train + passes.test;
  // Kaggle's full size at the defaults: 25,000 photos × (original + 1 copy), 12,500 test photos × (image + flip).
  const kaggle = 25_000 * 2 + 12_500 * 2;
  const hours = (n: number, rate: number) => (n / rate / 3600).toFixed(2);
  console.log(
    `Xception (add_12, 299²) raw onnxruntime, batch ${BATCH}, 64 photos: ${xception.e2e.toFixed(2)} images/s decode + forward, ${xception.fwd.toFixed(2)} forward only → ` +
      `projected first run of features + test-features: ${hours(all, xception.e2e)} h for this run's ${passes.train.toLocaleString('en')} + ${passes.test.toLocaleString('en')} passes, ` +
      `${hours(kaggle, xception.e2e)} h for Kaggle's ${kaggle.toLocaleString('en')} (${hours(kaggle, 0.9 * xception.e2e)} h at 90% of the raw rate)`,
  );
}

try {
  await main();
} finally {
  if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
}
