/**
 * The sweep figures of docs/benchmarks.md (#sweeps) and docs/guide/experiments.md: the Dogs-vs-Cats job with a small backbone
 * (mobilenet_v1_0.25_224) in a temp project, one `pipeline run` to fill the
 * run cache, then `pipeline sweep` over train.lr × model.dropout on the cached
 * features. Prints both wall times, the sweep's table, how many variants ran
 * or restored features, and whether the project's files were left as they were.
 *
 *   npm run bench:sweep            (BENCH_JOBS=2 by default)
 *
 * Heavy: about 2 minutes on 2 cores. Run it under the CPU lock.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SHARED = path.resolve(REPO, '../shared');
const JOBS = process.env.BENCH_JOBS ?? '2';

/** sha256 of every file outside .pipeline/ (symlinked stages/ excluded): what "left as it was" means. */
function fingerprintTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const child = path.join(rel, name);
      if (child === '.pipeline' || child === 'stages') continue;
      const stats = statSync(path.join(dir, child));
      if (stats.isDirectory()) walk(child);
      else hash.update(`${child}\0${stats.mode}\0`).update(readFileSync(path.join(dir, child)));
    }
  };
  walk('');
  return hash.digest('hex');
}

function cli(dir: string, args: string[]): { seconds: number; stdout: string; stderr: string; code: number | null } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [path.join(REPO, 'packages/engine/bin/pipeline.js'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  return { seconds: (Date.now() - started) / 1000, stdout: r.stdout, stderr: r.stderr, code: r.status };
}

const dir = mkdtempSync(path.join(tmpdir(), 'bench-sweep-'));
try {
  const doc = parse(readFileSync(path.join(REPO, 'pipeline.yaml'), 'utf8')) as {
    params: { data: Record<string, string>; model: Record<string, unknown> };
  };
  for (const key of ['train_dir', 'test_dir', 'test_labels'] as const)
    doc.params.data[key] = path.resolve(REPO, doc.params.data[key]);
  doc.params.model = {
    ...doc.params.model,
    backbone: path.join(SHARED, 'models', 'mobilenet_v1_0.25_224'),
    cut_layer: 'conv_pw_13_relu',
    input_size: 224,
    preprocess: 'tf',
  };
  symlinkSync(path.join(REPO, 'stages'), path.join(dir, 'stages'), 'dir');
  writeFileSync(path.join(dir, 'pipeline.yaml'), stringify(doc));

  const first = cli(dir, ['run']);
  if (first.code !== 0) throw new Error(`pipeline run failed:\n${first.stderr}`);
  process.stdout.write(`pipeline run (fills the run cache): ${first.seconds.toFixed(1)} s wall\n`);
  const before = fingerprintTree(dir);
  const sweep = cli(dir, [
    'sweep',
    '--set',
    'train.lr=0.001,0.003,0.01',
    '--set',
    'model.dropout=0.2,0.5',
    '--metric',
    'predict.log_loss',
    '--jobs',
    JOBS,
  ]);
  const lines = sweep.stdout.split('\n');
  const featuresRan = lines.filter((line) => /^\[v\d+\] features {2}ran/.test(line)).length;
  const featuresRestored = lines.filter((line) => /^\[v\d+\] features {2}restored/.test(line)).length;
  process.stdout.write(
    `pipeline sweep (6 variants, --jobs ${JOBS}): ${sweep.seconds.toFixed(1)} s wall, exit ${sweep.code}\n`,
  );
  process.stdout.write(`features: ran in ${featuresRan} variants, restored in ${featuresRestored}\n`);
  process.stdout.write(
    `project files after the sweep: ${fingerprintTree(dir) === before ? 'byte-identical' : 'CHANGED'}\n\n`,
  );
  process.stdout.write(`${lines.slice(lines.findIndex((line) => line.startsWith('variant'))).join('\n')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
