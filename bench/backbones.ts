/**
 * The backbone table of docs/benchmarks.md (#backbones): the whole Dogs-vs-Cats job (the repo's
 * pipeline.yaml stages and params) once per backbone in ../shared/models, on
 * the full shared data, each in its own temp project so the repo's artifacts
 * are untouched. Prints validation and test metrics and the wall time of the
 * whole run and of the features stage.
 *
 *   npm run bench:backbones -- [folder…]
 *
 * Heavy: minutes per backbone on 2 cores (the Xception cut the longest).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { SHARED_MODELS } from './shared-models.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SHARED = path.resolve(REPO, '../shared');

/** The parts of pipeline.yaml this benchmark rewrites. */
interface BenchDoc {
  params: { data: Record<string, string>; model: Record<string, unknown> };
  stages: Record<string, unknown>;
}

interface Row {
  backbone: string;
  val_loss?: number;
  val_accuracy?: number;
  test_log_loss?: number;
  test_accuracy?: number;
  engine?: string;
  features_s?: number;
  total_s: number;
  error?: string;
}

function runOne(name: string): Row {
  const spec = SHARED_MODELS[name];
  if (!spec) throw new Error(`unknown backbone ${name}; known: ${Object.keys(SHARED_MODELS).join(', ')}`);
  const dir = mkdtempSync(path.join(tmpdir(), `bench-${name}-`));
  try {
    const doc = parse(readFileSync(path.join(REPO, 'pipeline.yaml'), 'utf8')) as BenchDoc;
    // Relative data paths in the repo's params resolve from the repo, not the temp project.
    for (const key of ['train_dir', 'test_dir', 'test_labels'] as const)
      doc.params.data[key] = path.resolve(REPO, doc.params.data[key]);
    doc.params.model = {
      ...doc.params.model,
      backbone: path.join(SHARED, 'models', name),
      ...spec,
    };
    // Module stages must lie inside the project: link the repo's stages/ into the temp one.
    symlinkSync(path.join(REPO, 'stages'), path.join(dir, 'stages'), 'dir');
    writeFileSync(path.join(dir, 'pipeline.yaml'), stringify(doc));
    const started = Date.now();
    const r = spawnSync(process.execPath, [path.join(REPO, 'packages/engine/bin/pipeline.js'), 'run', '--json'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, CI: '1' },
    });
    const total_s = (Date.now() - started) / 1000;
    if (r.status !== 0)
      return { backbone: name, total_s, error: (r.stderr || r.stdout).split('\n').slice(-5).join(' ') };
    const read = <T>(rel: string) => JSON.parse(readFileSync(path.join(dir, 'artifacts', rel), 'utf8')) as T;
    const train = read<{ val_loss: number; val_accuracy: number }>('train/metrics.json');
    const test = read<{ log_loss: number; accuracy: number }>('predict/metrics.json');
    const features = read<{ engine: string }>('features/report.json');
    // How long the features stage took is a figure of the run (run --json, the run record), not of its outs.
    const figures = (JSON.parse(r.stdout) as { stage: string; figures?: Record<string, number> }[]).find(
      (s) => s.stage === 'features',
    )?.figures;
    return {
      backbone: name,
      val_loss: train.val_loss,
      val_accuracy: train.val_accuracy,
      test_log_loss: test.log_loss,
      test_accuracy: test.accuracy,
      engine: features.engine,
      features_s: figures?.seconds,
      total_s,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SHARED_MODELS);
const rows: Row[] = [];
for (const name of names) {
  process.stderr.write(`${name}…\n`);
  const row = runOne(name);
  rows.push(row);
  process.stderr.write(`${JSON.stringify(row)}\n`);
}
const f = (x: number | undefined, d: number) => (x === undefined ? '—' : x.toFixed(d));
console.log(
  '| backbone | val acc | val log loss | test acc | test log loss | inference | features (s) | whole run (s) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    r.error
      ? `| ${r.backbone} | failed: ${r.error} |||||||`
      : `| ${r.backbone} | ${f(r.val_accuracy, 4)} | ${f(r.val_loss, 4)} | ${f(r.test_accuracy, 4)} | ${f(r.test_log_loss, 4)} | ${r.engine} | ${f(r.features_s, 0)} | ${f(r.total_s, 0)} |`,
  );
}
