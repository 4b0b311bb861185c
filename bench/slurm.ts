/**
 * The Slurm executor on the one-node cluster of scripts/slurm-cluster.sh:
 *  1. overhead per trivial stage, Slurm vs local (a chain of `BENCH_STAGES` cmd stages, --force-all, poll 1 s);
 *  2. `features` of a Dogs-vs-Cats subset (`BENCH_IMAGES` train photos, the smallest backbone, 1 ONNX
 *     thread and 1 CPU per job) with 1, 2 and 4 shards as Slurm jobs, checking the features are
 *     byte-identical whatever the shard count, and the time projected on N nodes from the measured rates.
 * Run it alone (it measures CPU-bound work): `npm run bench:slurm`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jobPipelineYaml } from '../test/job-pipeline.ts';
import { listRuns } from '../packages/engine/src/experiments/run-record.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SHARED = path.resolve(REPO, '../shared');
const STAGES = Number(process.env.BENCH_STAGES ?? 4);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 400);
const SHARDS = (process.env.BENCH_SHARDS ?? '1,2,4').split(',').map(Number);

function cli(dir: string, args: string[]): number {
  const started = Date.now();
  const r = spawnSync(process.execPath, [path.join(REPO, 'packages/engine/bin/pipeline.js'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  if (r.status !== 0) throw new Error(`pipeline ${args.join(' ')} failed in ${dir}:\n${r.stdout}\n${r.stderr}`);
  return (Date.now() - started) / 1000;
}

if (spawnSync('sinfo', ['--version']).status !== 0) {
  console.error('no Slurm here: start the one-node cluster with `bash scripts/slurm-cluster.sh up`');
  process.exit(1);
}
const nodeCpus = spawnSync('sinfo', ['--noheader', '--format=%c'], { encoding: 'utf8' }).stdout.trim();
console.log(
  `machine: ${cpus().length} CPU cores (${cpus()[0]?.model}), Slurm node with ${nodeCpus} CPUs; Node ${process.version}\n`,
);

// 1. Overhead per trivial stage.
{
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-slurm-trivial-'));
  const stages = Array.from(
    { length: STAGES },
    (_, i) =>
      `  s${i}:\n    cmd: mkdir -p out && echo ${i} > out/s${i}.txt${i > 0 ? ` && cat out/s${i - 1}.txt >> out/s${i}.txt` : ''}\n${i > 0 ? `    deps: [out/s${i - 1}.txt]\n` : ''}    outs: [out/s${i}.txt]\n`,
  );
  writeFileSync(path.join(dir, 'pipeline.yaml'), `executor: { poll_seconds: 1 }\nstages:\n${stages.join('')}`);
  cli(dir, ['run']);
  const local = cli(dir, ['run', '--force-all']);
  const slurm = cli(dir, ['run', '--force-all', '--executor', 'slurm']);
  console.log(`trivial cmd stages in a chain of ${STAGES} (--force-all, poll_seconds 1):`);
  console.log(`  local  ${(local / STAGES).toFixed(2)} s per stage (${local.toFixed(1)} s in all, CLI start included)`);
  console.log(`  slurm  ${(slurm / STAGES).toFixed(2)} s per stage (${slurm.toFixed(1)} s in all)`);
  console.log(`  overhead of a Slurm job over a local child: ${((slurm - local) / STAGES).toFixed(2)} s per stage\n`);
  rmSync(dir, { recursive: true, force: true });
}

// 2. features with 1, 2, 4 shards.
{
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-slurm-features-'));
  const trainSrc = path.join(SHARED, 'datasets/dogs-vs-cats/train');
  mkdirSync(path.join(dir, 'data/train'), { recursive: true });
  mkdirSync(path.join(dir, 'data/test'), { recursive: true });
  const photos = readdirSync(trainSrc).sort();
  const pick = (prefix: string) => photos.filter((f) => f.startsWith(prefix)).slice(0, IMAGES / 2);
  for (const f of [...pick('cat.'), ...pick('dog.')])
    copyFileSync(path.join(trainSrc, f), path.join(dir, 'data/train', f));
  symlinkSync(path.join(REPO, 'stages'), path.join(dir, 'stages'), 'dir');
  const backbone = path.join(SHARED, 'models/mobilenet_v1_0.25_224');
  const jobYaml = jobPipelineYaml({
    data: { train_dir: 'data/train', test_dir: 'data/test', test_labels: '', val_fraction: 0.1, seed: 1 },
    augment: { copies: 1, seed: 1 },
    model: { backbone, cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
    runtime: { device: 'cpu', threads: 1, batch_size: 16 },
    train: { lr: 0.001, epochs: 2, batch_size: 16, patience: 0, seed: 1 },
    predict: { clip: 0.005 },
    visualize: { per_class: 2, cols: 4 },
  });
  const yaml = (shards: number) =>
    `executor: { poll_seconds: 1, resources: { cpus: 1 } }\n${jobYaml.replace(/(\n {2}features:\n(?: {4}.*\n)*? {4}heavy: true\n)/, `$1    shards: ${shards}\n`)}`;
  writeFileSync(path.join(dir, 'pipeline.yaml'), yaml(1));
  cli(dir, ['run', 'split', 'augment-config', 'build-model']);
  console.log(
    `features of ${IMAGES} train photos (+1 augmented copy each; mobilenet_v1_0.25_224, 1 ONNX thread and 1 CPU per job), Slurm jobs:`,
  );
  const rows: { shards: number; seconds: number; shardSeconds: number; rows: number; hash: string }[] = [];
  for (const shards of SHARDS) {
    writeFileSync(path.join(dir, 'pipeline.yaml'), yaml(shards));
    // An empty feature store per shard count: every run computes all its rows (the shards share that store).
    const seconds = cli(dir, [
      'run',
      'features',
      '--force',
      '--executor',
      'slurm',
      '--set',
      `runtime.feature_store=.store-${shards}`,
    ]);
    const report = JSON.parse(readFileSync(path.join(dir, 'artifacts/features/report.json'), 'utf8')) as {
      rows: number;
    };
    // The shards' compute seconds, totalled by merge: a figure in the run record, not in the outs.
    const shardSeconds = listRuns(path.join(dir, '.pipeline')).at(-1)!.stages.features.figures!.seconds;
    const hash = createHash('sha256')
      .update(readFileSync(path.join(dir, 'artifacts/features/features.f32')))
      .update(readFileSync(path.join(dir, 'artifacts/features/index.csv')))
      .digest('hex');
    rows.push({ shards, seconds, shardSeconds, rows: report.rows, hash });
    console.log(
      `  ${shards} shard${shards === 1 ? ' ' : 's'}  ${seconds.toFixed(1)} s wall (${(seconds / rows[0].seconds).toFixed(2)}× the 1-shard time), ${report.rows} rows, shard compute ${shardSeconds} s in all, features ${hash.slice(0, 12)}`,
    );
  }
  const identical = rows.every((r) => r.hash === rows[0].hash);
  console.log(`  features.f32 + index.csv identical for every shard count: ${identical ? 'yes' : 'NO'}`);
  // Projection: one shard per node at the measured 1-core rate, plus the fixed cost of a sharded run (shard jobs
  // start and load the backbone, then the merge job), taken from the 2-shard run, where each shard had a core of its own.
  const one = rows[0];
  const two = rows.find((r) => r.shards === 2);
  const perShardRate = one.rows / one.shardSeconds;
  const fixed = Math.max(0, (two ?? one).seconds - one.rows / (two ? 2 : 1) / perShardRate);
  console.log(
    `  per-shard rate ${perShardRate.toFixed(1)} rows/s on 1 core; fixed cost of a sharded run ≈ ${fixed.toFixed(1)} s (job starts, backbone loads, merge job, polling)`,
  );
  const kaggleRows = 25_000 * 0.9 * 2 + 25_000 * 0.1; // Kaggle's full train set: 90% train × (original + 1 copy) + 10% val
  for (const nodes of [1, 4, 16, 64]) {
    const projected = fixed + kaggleRows / (perShardRate * nodes);
    console.log(
      `  projected, Kaggle's 25,000 train photos, ${String(nodes).padStart(2)} shard${nodes === 1 ? ' ' : 's'} on ${String(nodes).padStart(2)} node${nodes === 1 ? ' ' : 's'} (1 core each): ${(projected / 60).toFixed(1)} min`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  if (!identical) process.exit(1);
}
