/**
 * The per-image feature store through the real CLI, on 36 photos and the
 * smallest backbone. Backbone passes are counted from the figures the stage
 * reported to the run record (`computed`: the rows it ran the model on;
 * `fromStore`), never from its outs, which are the same bytes either way.
 * The tests run in order on one project: each starts from the state the
 * previous one left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BACKBONE, cli, copyInto, jobProject, photos, PIPELINE_BIN, store, TRAIN_SRC } from './job-fixture.ts';

const available = existsSync(TRAIN_SRC) && existsSync(BACKBONE);

let dir = '';
const storeDir = () => path.join(dir, '.pipeline/stage-cache/features/feature-store/v1');
const segments = () =>
  existsSync(storeDir())
    ? readdirSync(storeDir())
        .filter((f) => f.endsWith('.seg'))
        .sort()
    : [];
const features = () => readFileSync(path.join(dir, 'artifacts/features/features.f32'));
const index = () => readFileSync(path.join(dir, 'artifacts/features/index.csv'), 'utf8');
const report = () =>
  JSON.parse(readFileSync(path.join(dir, 'artifacts/features/report.json'), 'utf8')) as {
    rows: number;
    store: { path: string };
  };
/** Starts `pipeline run features --force`, waits until the store has committed `atLeast` new segments, sends `signal`. */
async function interruptFeatures(signal: NodeJS.Signals, atLeast: number): Promise<number | null> {
  const before = segments().length;
  // The stage holds after its atLeast-th committed batch and writes `held` (FEATURES_HOLD_AFTER in
  // stages/lib/inference/featurisation.ts): the signal reaches a run known to be midway.
  const held = path.join(dir, `held-${signal}`);
  const child = spawn(process.execPath, [PIPELINE_BIN, 'run', 'features', '--force'], {
    cwd: dir,
    env: { ...process.env, CI: '1', FEATURES_HOLD_AFTER: String(atLeast), FEATURES_HOLD_FILE: held },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !existsSync(held)) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!done, 'the run ended without holding after its batches');
  assert.equal(segments().length, before + atLeast, 'held after exactly that many committed batches');
  child.kill(signal);
  const code = await exited;
  rmSync(held);
  return code;
}

before(() => {
  if (!available) return;
  dir = jobProject(mkdtempSync(path.join(tmpdir(), 'pipeline-store-')), {
    data: { train_dir: 'data/train', test_dir: 'data/test', test_labels: '', val_fraction: 0.25, seed: 1 },
    augment: { copies: 1, seed: 1 },
    model: { backbone: BACKBONE, cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
    runtime: { inference: 'onnx', device: 'cpu', threads: 0, batch_size: 2 },
    train: { lr: 0.001, epochs: 1, batch_size: 16, patience: 0, seed: 1 },
    predict: { clip: 0.005 },
    visualize: { per_class: 1, cols: 2 },
  });
  copyInto([...photos('cat', 0, 18), ...photos('dog', 0, 18)], path.join(dir, 'data/train'));
  copyFileSync(photos('cat', 0, 1)[0], path.join(dir, 'data/test/1.jpg'));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// 36 photos (26 train, 10 val), 1 copy each, val copies into the store only: 72 passes, 62 rows.
const ALL = 72;
let uninterrupted: Buffer;
let uninterruptedIndex = '';

test('first run computes every variant and commits it to the store', { skip: !available }, () => {
  const r = cli(dir, 'run', 'features');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(report().store, { path: '.pipeline/stage-cache/features/feature-store' });
  assert.deepEqual(store(dir), { fromStore: 0, computed: ALL });
  assert.equal(report().rows, 62);
  assert.match(r.output, /0 of 72 from the store, 72 computed/);
  assert.ok(segments().length > 10, 'committed batch by batch');
  uninterrupted = features();
  uninterruptedIndex = index();
});

for (const signal of ['SIGKILL', 'SIGINT'] as const) {
  test(
    `${signal} midway, rerun: only the missing variants are computed, features byte-identical`,
    { skip: !available },
    async () => {
      rmSync(storeDir(), { recursive: true });
      const code = await interruptFeatures(signal, 6);
      if (signal === 'SIGINT') assert.equal(code, 130);
      const r = cli(dir, 'run', 'features', '--force');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const { fromStore, computed } = store(dir);
      assert.ok(fromStore! >= 12 && computed! > 0, `resumed midway: ${fromStore} from the store, ${computed} computed`);
      assert.equal(fromStore! + computed!, ALL);
      assert.match(r.output, new RegExp(`${fromStore} of 72 from the store, ${computed} computed`));
      assert.ok(features().equals(uninterrupted), 'same bytes as the uninterrupted run');
      assert.equal(index(), uninterruptedIndex);
    },
  );
}

test(
  'a new data.seed (another split) needs no backbone pass; each row is the same as before',
  { skip: !available },
  () => {
    const r = cli(dir, 'run', 'features', '--set', 'data.seed=7');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(store(dir).computed, 0);
    assert.equal(store(dir).fromStore, ALL);
    const rowsOf = (csv: string, bytes: Buffer) => {
      const dim = bytes.length / 4 / (csv.trim().split('\n').length - 1);
      return new Map(
        csv
          .trim()
          .split('\n')
          .slice(1)
          .map((line, i) => {
            const [, split, copy, , file] = line.split(',');
            return [
              `${file}#${copy}#${split === 'val' ? 'val' : 'train'}`,
              bytes.subarray(i * dim * 4, (i + 1) * dim * 4).toString('hex'),
            ];
          }),
      );
    };
    const before = rowsOf(uninterruptedIndex, uninterrupted);
    const now = rowsOf(index(), features());
    assert.notEqual(index(), uninterruptedIndex, 'the split did change');
    let compared = 0;
    for (const [key, value] of now) {
      const [file, copy] = key.split('#');
      const earlier = [...before].find(([k]) => k.startsWith(`${file}#${copy}#`));
      if (earlier) {
        assert.equal(value, earlier[1], `${key}: the same numbers whatever the split`);
        compared++;
      }
    }
    assert.ok(compared > 50);
  },
);

test('added photos: only they are computed', { skip: !available }, () => {
  copyInto(photos('dog', 18, 3), path.join(dir, 'data/train'));
  const r = cli(dir, 'run', 'features');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(store(dir), { computed: 6, fromStore: ALL });
});

test('copies 1 → 2: only the new copies are computed', { skip: !available }, () => {
  const r = cli(dir, 'run', 'features', '--set', 'augment.copies=2');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(store(dir), { computed: 39, fromStore: 78 });
});

test('a truncated segment and a corrupted entry are named in warnings and recomputed', { skip: !available }, () => {
  const r0 = cli(dir, 'run', 'features');
  assert.equal(r0.code, 0, r0.stderr + r0.stdout);
  const reference = features();
  const [first, second] = segments().map((f) => path.join(storeDir(), f));
  truncateSync(first, statSync(first).size - 10);
  const bytes = readFileSync(second);
  bytes[5] = bytes[5] ^ 0xff; // inside the first entry's floats
  writeFileSync(second, bytes);
  const r = cli(dir, 'run', 'features', '--force');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(
    r.output,
    new RegExp(
      `warning: feature store: ${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged \\(no segment footer`,
    ),
  );
  assert.match(
    r.output,
    /warning: feature store: the entry for data\/train\/\S+ \(copy \d\) in \S+ fails its checksum; recomputing it/,
  );
  assert.ok(store(dir).computed! >= 3, `the damaged entries were recomputed (${store(dir).computed})`);
  assert.ok(features().equals(reference), 'and give the same bytes');
  const again = cli(dir, 'run', 'features', '--force');
  assert.doesNotMatch(again.output, /warning: feature store/, 'repaired for good');
  assert.equal(store(dir).computed, 0);
});

test('gc --dry-run lists what gc then removes; what the locked run used stays', { skip: !available }, () => {
  const status = cli(dir, 'status');
  assert.match(
    status.stdout,
    /stores: run cache \d[\d.]* [kM]?B, stage cache features \d[\d.]* [kM]?B \(`pipeline gc` to reclaim\)/,
  );
  const dry = cli(dir, 'gc', '--keep-days', '0', '--dry-run', '--json');
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as {
    groups: { store: string; remove: { files: number; bytes: number; paths: string[] } }[];
  };
  const byStore = Object.fromEntries(plan.groups.map((g) => [g.store, g.remove]));
  // The copies=2 runs made run records no lock holds, and segments holding only copy-2 entries.
  assert.ok(byStore['run cache'].files > 0, 'old run records go');
  assert.ok(byStore['stage cache features'].files > 0, 'copy-2 segments go');
  const listed = plan.groups.flatMap((g) => g.remove.paths);
  const bytes = plan.groups.reduce((n, g) => n + g.remove.bytes, 0);
  assert.ok(
    listed.every((p) => existsSync(path.join(dir, p))),
    'a dry run removes nothing',
  );
  const real = cli(dir, 'gc', '--keep-days', '0', '--json');
  assert.equal(real.code, 0, real.stderr);
  assert.deepEqual((JSON.parse(real.stdout) as { removed: unknown }).removed, { files: listed.length, bytes });
  assert.ok(
    listed.every((p) => !existsSync(path.join(dir, p))),
    'gc removed what the dry run listed',
  );
  // What the locked run used is still there: the current features need no pass; the copy-2 entries are gone.
  const r = cli(dir, 'run', 'features', '--force');
  assert.equal(store(dir).computed, 0, r.stderr);
  const copies2 = cli(dir, 'run', 'features', '--set', 'augment.copies=2');
  assert.equal(copies2.code, 0, copies2.stderr);
  assert.equal(store(dir).computed, 39);
});
