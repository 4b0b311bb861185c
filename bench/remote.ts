/**
 * The figures of docs/remote-cache.md: the Dogs-vs-Cats job (the repo's pipeline.yaml, its data paths made absolute
 * to the shared data, default params) in fresh temp clones (the repo's stages/ linked in, no .pipeline/), all
 * against one real nginx WebDAV server on loopback (scripts/cache-server.sh):
 *
 *   A  `pipeline run --remote URL` from an empty server: wall time, backbone passes, what the server holds after;
 *   B  a second clone, the same command: what was restored from the remote and what ran, backbone passes (must be
 *      0), submission.csv and metrics.json byte-identical to A's (must be);
 *   C  a third clone with data.seed + 1 (another split): what reran, backbone passes (must be 0: every image's
 *      features come from the remote store);
 *   E  one byte of the train feature pack flipped on the server, then a clone holding BENCH_CORRUPT_IMAGES of the
 *      job's photos runs `pipeline run features --force`: the damage must be reported, the pack discarded and dropped
 *      from the catalog, and the photos recomputed to A's bytes;
 *   D  the server stopped, a fourth clone: `pipeline run split` (BENCH_REMOTE_DOWN=full: the whole job, ~13 minutes
 *      more) must complete locally with exactly one warning.
 *
 * Prints a markdown table, the checks, the machine and the commit; exits non-zero when a check fails.
 *
 *   nice npm run bench:remote            # the whole job with its Xception backbone: ~20 minutes on 2 cores
 *   BENCH_IMAGES=40 BENCH_BACKBONE=mobilenet_v1_0.25_224 nice npm run bench:remote    # a check in a few minutes
 *
 * BENCH_IMAGES=N: the first N/2 cats and N/2 dogs of the shared train photos and BENCH_TEST_IMAGES (default N/4,
 * at least 4) test photos, as symlinks, instead of the whole shared data. BENCH_BACKBONE: a folder of
 * ../shared/models (its cut layer, input size and preprocessing from bench/shared-models.ts). BENCH_CORRUPT_IMAGES: the
 * photos of clone E (default 16). BENCH_KEEP=1 keeps the temp folders; BENCH_VERBOSE=1 echoes every run's output.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { jobPipelineYaml } from '../test/job-pipeline.ts';
import { CacheServer } from '../test/remote/cache-server.ts';
import { listRuns, runFigures } from '../packages/engine/src/experiments/run-record.ts';
import { SHARED_MODELS } from './shared-models.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SHARED = path.resolve(REPO, '../shared');
const CLI = path.join(REPO, 'packages/engine/bin/pipeline.js');
const SHARED_TRAIN = path.join(SHARED, 'datasets/dogs-vs-cats/train');
const SHARED_TEST = path.join(SHARED, 'datasets/dogs-vs-cats/test');
const SHARED_LABELS = path.join(SHARED, 'datasets/dogs-vs-cats/test_labels.csv');

function whole(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number ≥ 0, got "${raw}"`);
  return n;
}
/** 0: the shared data as the repo's job reads it. */
const IMAGES = whole('BENCH_IMAGES', 0);
const TEST_IMAGES = whole('BENCH_TEST_IMAGES', Math.max(4, Math.round(IMAGES / 4)));
const CORRUPT_IMAGES = Math.max(2, whole('BENCH_CORRUPT_IMAGES', 16));
const DOWN_FULL = process.env.BENCH_REMOTE_DOWN === 'full';
const VERBOSE = process.env.BENCH_VERBOSE === '1';

type Overrides = Record<string, Record<string, unknown>>;
interface JobData {
  train_dir: string;
  test_dir: string;
  test_labels: string;
}

const job = parse(readFileSync(path.join(REPO, 'pipeline.yaml'), 'utf8')) as {
  params: { data: JobData & { seed: number }; model: { backbone: string } };
};

function backboneOverrides(): Overrides {
  const given = process.env.BENCH_BACKBONE;
  // The repo's backbone path is relative to the repo; the clones live elsewhere.
  if (!given) return { model: { backbone: path.resolve(REPO, job.params.model.backbone) } };
  const folder = given.includes('/') ? path.resolve(given) : path.join(SHARED, 'models', given);
  const spec = SHARED_MODELS[path.basename(folder)];
  if (!spec) throw new Error(`BENCH_BACKBONE: unknown model ${given}; known: ${Object.keys(SHARED_MODELS).join(', ')}`);
  return { model: { backbone: folder, ...spec } };
}

/** Checked before the server starts. */
const MODEL = backboneOverrides();

/** `<prefix>.N.jpg` in a folder, by N. */
function photos(folder: string, prefix: 'cat' | 'dog'): string[] {
  return readdirSync(folder)
    .filter((f) => new RegExp(`^${prefix}\\.\\d+\\.jpg$`).test(f))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
}

function linkPhotos(from: string, names: string[], into: string): void {
  mkdirSync(into, { recursive: true });
  for (const name of names) symlinkSync(path.join(from, name), path.join(into, name));
}

/** The first n/2 cats and n/2 dogs of `from` (cats get the odd one) as symlinks in `into`. */
function trainSubset(from: string, n: number, into: string): number {
  const picked = [
    ...photos(from, 'cat').slice(0, Math.ceil(n / 2)),
    ...photos(from, 'dog').slice(0, Math.floor(n / 2)),
  ];
  linkPhotos(from, picked, into);
  return picked.length;
}

/** The job's data: the shared folders (absolute), or BENCH_IMAGES photos of them linked into `root/data`. */
function jobData(root: string): JobData {
  if (IMAGES === 0) {
    const d = job.params.data;
    const absolute = (p: string) => (p ? path.resolve(REPO, p) : p);
    return { train_dir: absolute(d.train_dir), test_dir: absolute(d.test_dir), test_labels: absolute(d.test_labels) };
  }
  const data = path.join(root, 'data');
  trainSubset(SHARED_TRAIN, IMAGES, path.join(data, 'train'));
  const ids = readdirSync(SHARED_TEST)
    .filter((f) => /^\d+\.jpg$/.test(f))
    .map((f) => Number(f.split('.')[0]))
    .sort((a, b) => a - b)
    .slice(0, TEST_IMAGES);
  linkPhotos(
    SHARED_TEST,
    ids.map((id) => `${id}.jpg`),
    path.join(data, 'test'),
  );
  const [header, ...rows] = readFileSync(SHARED_LABELS, 'utf8').trim().split('\n');
  const wanted = new Set(ids);
  writeFileSync(
    path.join(data, 'test_labels.csv'),
    [header, ...rows.filter((row) => wanted.has(Number(row.split(',')[0])))].join('\n') + '\n',
  );
  return {
    train_dir: path.join(data, 'train'),
    test_dir: path.join(data, 'test'),
    test_labels: path.join(data, 'test_labels.csv'),
  };
}

/** A fresh clone: the repo's pipeline.yaml with these params, the repo's stages/ linked in, no .pipeline/. */
function makeClone(root: string, name: string, overrides: Overrides): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  symlinkSync(path.join(REPO, 'stages'), path.join(dir, 'stages'), 'dir');
  writeFileSync(path.join(dir, 'pipeline.yaml'), jobPipelineYaml(overrides));
  return dir;
}

function merge(...layers: Overrides[]): Overrides {
  const out: Overrides = {};
  for (const layer of layers)
    for (const [group, values] of Object.entries(layer)) out[group] = { ...out[group], ...values };
  return out;
}

interface Run {
  code: number | null;
  seconds: number;
  output: string;
  stderr: string;
  /** Stage → action (`ran`, `restored`, `skipped`, `failed`) from `run --json`. */
  actions: Record<string, string>;
  stageSeconds: Record<string, number>;
  /** The run record's figures (`features.computed`, …). */
  figures: Record<string, number>;
  warnings: string[];
  /** The engine's closing line about the remote (`remote cache URL: restored … from it (… down); uploaded …`). */
  summary: string | undefined;
}

const tail = (text: string, lines = 40) => text.trimEnd().split('\n').slice(-lines).join('\n');

/** `pipeline run --json ARGS` in `dir`; throws with the output when it fails unless `mayFail`. */
function pipelineRun(label: string, dir: string, args: string[], mayFail = false): Run {
  process.stderr.write(`${label}: pipeline run ${args.join(' ')} (in ${path.basename(dir)})…\n`);
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'run', '--json', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
    maxBuffer: 256 << 20,
  });
  const seconds = (performance.now() - started) / 1000;
  if (r.error) throw r.error;
  if (VERBOSE) process.stderr.write(`${r.stdout}${r.stderr}`);
  process.stderr.write(`${label}: exit ${r.status} after ${seconds.toFixed(1)} s\n`);
  if (r.status !== 0 && !mayFail)
    throw new Error(
      `${label}: pipeline run ${args.join(' ')} exited ${r.status}:\n${tail(r.stdout)}\n${tail(r.stderr)}`,
    );
  let stages: { stage: string; action: string; seconds: number }[] = [];
  try {
    stages = JSON.parse(r.stdout) as typeof stages;
  } catch {
    if (!mayFail) throw new Error(`${label}: stdout is not run --json's JSON:\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  }
  const record = listRuns(path.join(dir, '.pipeline')).at(-1);
  return {
    code: r.status,
    seconds,
    output: r.stdout + r.stderr,
    stderr: r.stderr,
    actions: Object.fromEntries(stages.map((s) => [s.stage, s.action])),
    stageSeconds: Object.fromEntries(stages.map((s) => [s.stage, s.seconds])),
    figures: record ? runFigures(record) : {},
    // The engine's warnings and the stages' (shown as `  features │ warning: …`).
    warnings: (r.stdout + r.stderr)
      .split('\n')
      .filter((line) => /^(\s*\S+\s+│ )?warning:/.test(line))
      .map((line) => line.slice(line.indexOf('warning:'))),
    summary: /^remote cache \S+: .*$/m.exec(r.stderr)?.[0],
  };
}

const FEATURE_STAGES = ['features', 'test-features'];
const n = (x: number) => x.toLocaleString('en');
const passes = (run: Run) => FEATURE_STAGES.reduce((sum, s) => sum + (run.figures[`${s}.computed`] ?? 0), 0);

/** What a feature stage logged about the remote feature store: packs downloaded, packs shared. */
function storeTraffic(run: Run, stage: string): string {
  const line = (pattern: string) =>
    new RegExp(`^\\s*${stage}\\s+│ feature store: ${pattern}$`, 'm').exec(run.output)?.slice(1) ?? [];
  const [got, missing, packs] = line('([\\d,]+) of ([\\d,]+) missing entries from the remote cache \\((.*)\\)');
  const [shared] = line('shared (.*) with the remote cache');
  return [
    got !== undefined && `${got} of ${missing} missing from the remote (${packs})`,
    shared !== undefined && `shared ${shared}`,
  ]
    .filter(Boolean)
    .join(', ');
}

/** "features 4,524 (0 from the store, …; 712 s); test-features 1,000 (…)" for the feature stages that ran. */
function passNote(run: Run): string {
  const parts = FEATURE_STAGES.filter((s) => run.figures[`${s}.computed`] !== undefined).map((s) => {
    const remote = storeTraffic(run, s);
    return `${s} **${n(run.figures[`${s}.computed`])}** (${n(run.figures[`${s}.fromStore`] ?? 0)} from the store${remote ? `: ${remote}` : ''}; ${(run.stageSeconds[s] ?? 0).toFixed(0)} s)`;
  });
  return parts.length > 0 ? parts.join('; ') : '0 (no feature stage ran)';
}

function byAction(run: Run, action: string): string[] {
  return Object.entries(run.actions)
    .filter(([, a]) => a === action)
    .map(([stage]) => stage);
}

function bytes(size: number): string {
  if (size < 1e3) return `${size} B`;
  if (size < 1e6) return `${(size / 1e3).toFixed(1)} kB`;
  if (size < 1e9) return `${(size / 1e6).toFixed(1)} MB`;
  return `${(size / 1e9).toFixed(2)} GB`;
}

function serverHolds(server: CacheServer): string {
  const space = (name: 'ac' | 'cas') => {
    const entries = server.entries(name);
    const size = entries.reduce((sum, entry) => sum + statSync(server.path(name, entry)).size, 0);
    return `${name}/ ${n(entries.length)} (${bytes(size)})`;
  };
  return `${space('ac')}, ${space('cas')}`;
}

/** What the run exchanged through the run cache, from its closing line (the stages' own feature-pack traffic is not in it). */
function traffic(run: Run): string {
  const down = /\(([^)]+) down\)/.exec(run.summary ?? '')?.[1];
  const up = /\(([^)]+) up\)/.exec(run.summary ?? '')?.[1];
  return [down && `${down} down`, up && `${up} up`].filter(Boolean).join(', ') || 'none';
}

/** Every file under a folder, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

function sameFile(a: string, b: string): boolean {
  try {
    return readFileSync(a).equals(readFileSync(b));
  } catch {
    return false;
  }
}

const MAGIC = 'PFSEG001';

/** A feature-store segment's entries, key → bytes ([rows × dim float32][index JSON][u32 LE length][PFSEG001]). */
function segmentEntries(data: Buffer): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  if (data.length < 12 || data.subarray(-8).toString('latin1') !== MAGIC) return entries;
  const length = data.readUInt32LE(data.length - 12);
  const index = JSON.parse(data.subarray(data.length - 12 - length, data.length - 12).toString('utf8')) as {
    dim: number;
    entries: [string, string][];
  };
  const size = index.dim * 4;
  index.entries.forEach(([key], i) => entries.set(key, data.subarray(i * size, (i + 1) * size)));
  return entries;
}

/** Every entry of a clone's local feature store for `stage` (later segments win, as in the store). */
function localStore(clone: string, stage: string): Map<string, Buffer> {
  const dir = path.join(clone, '.pipeline/stage-cache', stage, 'feature-store/v1');
  const entries = new Map<string, Buffer>();
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort())
    for (const [key, value] of segmentEntries(readFileSync(path.join(dir, name)))) entries.set(key, value);
  return entries;
}

interface CatalogPack {
  sha256: string;
  keys: string[];
}

/** The feature-store catalogs on the server: ac/ name pointers ({sha256, size}) to cas/ JSON holding `packs`. */
function catalogs(server: CacheServer): CatalogPack[][] {
  const found: CatalogPack[][] = [];
  for (const entry of server.entries('ac')) {
    try {
      const pointer = JSON.parse(readFileSync(server.path('ac', entry), 'utf8')) as { sha256?: unknown };
      if (typeof pointer?.sha256 !== 'string') continue;
      const content = JSON.parse(readFileSync(server.path('cas', pointer.sha256), 'utf8')) as { packs?: unknown };
      if (Array.isArray(content?.packs)) found.push(content.packs as CatalogPack[]);
    } catch {
      // A run record, or a pointer to a blob that is not JSON: not a catalog.
    }
  }
  return found;
}

function machine(): string {
  let model = os.cpus()[0]?.model ?? 'unknown CPU';
  let flags = new Set<string>();
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? model;
    flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
  } catch {
    // not Linux: the model from os.cpus(), no flags
  }
  const simd = ['avx2', 'avx512f', 'avx512_vnni'].map((f) => `${f} ${flags.has(f) ? 'yes' : 'no'}`).join(', ');
  return `${model}, ${os.availableParallelism()} cores (${simd}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

function commit(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

interface Row {
  step: string;
  command: string;
  run: Run;
  server: string;
}

async function main(root: string, server: CacheServer): Promise<void> {
  const url = server.url;
  const data = jobData(root);
  const base = merge({ data: { ...data } }, MODEL);
  const seed = job.params.data.seed;
  const backbone = (base.model?.backbone as string | undefined) ?? path.resolve(REPO, job.params.model.backbone);
  const trainCount = readdirSync(data.train_dir).filter((f) => /\.jpg$/i.test(f)).length;
  const testCount = readdirSync(data.test_dir).filter((f) => /\.jpg$/i.test(f)).length;
  const remote = ['--remote', url];
  const rows: Row[] = [];
  const checks: [string, string][] = [];
  const failures: string[] = [];
  const check = (what: string, ok: boolean, result: string) => {
    checks.push([what, ok ? result : `**FAILED**: ${result}`]);
    if (!ok) failures.push(`${what}: ${result}`);
  };
  console.error(
    `bench:remote: ${n(trainCount)} train + ${n(testCount)} test photos, ${path.basename(backbone)}, server ${url}, in ${root}`,
  );
  try {
    await steps();
  } finally {
    // What was measured, also when a step failed part-way.
    print();
  }
  if (failures.length > 0) throw new Error(`bench:remote: ${failures.length} check(s) failed:\n${failures.join('\n')}`);

  async function steps(): Promise<void> {
    // A: the first clone fills the empty server.
    const a = makeClone(root, 'a', base);
    const runA = pipelineRun('A', a, remote);
    rows.push({
      step: 'A: first clone, empty server',
      command: '`pipeline run --remote URL`',
      run: runA,
      server: serverHolds(server),
    });

    // B: a second clone restores everything from the server.
    const b = makeClone(root, 'b', base);
    const runB = pipelineRun('B', b, remote);
    rows.push({
      step: 'B: second clone',
      command: '`pipeline run --remote URL`',
      run: runB,
      server: serverHolds(server),
    });
    const ranInB = Object.keys(runB.actions).filter((s) => runB.actions[s] !== 'restored');
    check(
      'B: every stage restored from the remote',
      ranInB.length === 0,
      ranInB.length === 0
        ? `${Object.keys(runB.actions).length} of ${Object.keys(runB.actions).length}`
        : `not restored: ${ranInB.map((s) => `${s} (${runB.actions[s]})`).join(', ')}`,
    );
    check('B: 0 backbone passes', passes(runB) === 0, passNote(runB));
    for (const file of ['predict/submission.csv', 'predict/metrics.json']) {
      const inA = path.join(a, 'artifacts', file);
      if (file.endsWith('metrics.json') && !data.test_labels) continue; // unlabelled test set: no metrics.json
      check(
        `B: artifacts/${file} byte-identical to A's`,
        sameFile(inA, path.join(b, 'artifacts', file)),
        sameFile(inA, path.join(b, 'artifacts', file)) ? 'yes' : 'differs',
      );
    }
    const filesA = filesUnder(path.join(a, 'artifacts'));
    const differ = filesA.filter((f) => !sameFile(path.join(a, 'artifacts', f), path.join(b, 'artifacts', f)));
    const extra = filesUnder(path.join(b, 'artifacts')).filter((f) => !filesA.includes(f));
    check(
      "B: every file under artifacts/ byte-identical to A's",
      differ.length === 0 && extra.length === 0,
      differ.length === 0 && extra.length === 0
        ? `${filesA.length} of ${filesA.length}`
        : `${differ.length} of ${filesA.length} differ or are missing (${differ.slice(0, 5).join(', ')}${differ.length > 5 ? ', …' : ''})${extra.length ? `; ${extra.length} only in B` : ''}`,
    );

    // C: another split; every image's features must come from the remote feature store.
    const c = makeClone(root, 'c', merge(base, { data: { seed: seed + 1 } }));
    const runC = pipelineRun('C', c, remote);
    rows.push({
      step: `C: third clone, data.seed ${seed} → ${seed + 1}`,
      command: '`pipeline run --remote URL`',
      run: runC,
      server: serverHolds(server),
    });
    check(`C: 0 backbone passes after the re-split`, passes(runC) === 0, passNote(runC));
    check('C: features ran (the split changed)', runC.actions.features === 'ran', `features ${runC.actions.features}`);

    // E: one byte of the train feature pack flipped on the server; a clone of a few of the same photos runs features.
    const trainKeys = localStore(a, 'features');
    const trainPacks = catalogs(server)
      .flat()
      .filter((pack) => pack.keys.length > 0 && pack.keys.every((key) => trainKeys.has(key)));
    if (trainPacks.length !== 1)
      throw new Error(
        `E: expected one feature pack on the server holding A's train entries, found ${trainPacks.length} (more than 8,192 entries are split into several packs; E needs its photos in the damaged one)`,
      );
    const damaged = trainPacks[0].sha256;
    const packBytes = readFileSync(server.path('cas', damaged));
    packBytes[7] ^= 0xff; // inside the first entry's floats
    writeFileSync(server.path('cas', damaged), packBytes);
    const eData = path.join(root, 'data-e/train');
    const ePhotos = trainSubset(data.train_dir, Math.min(CORRUPT_IMAGES, trainCount), eData);
    const e = makeClone(root, 'e', merge(base, { data: { train_dir: eData } }));
    const runE = pipelineRun('E', e, ['features', '--force', ...remote]);
    rows.push({
      step: `E: one byte flipped in the train feature pack (${bytes(packBytes.length)}, ${n(trainPacks[0].keys.length)} entries); a clone of ${ePhotos} of the photos`,
      command: '`pipeline run features --force --remote URL`',
      run: runE,
      server: serverHolds(server),
    });
    const warned = runE.warnings.find((w) => w.includes(damaged.slice(0, 12)) && /does not match its sha256/.test(w));
    check('E: the damaged pack is reported', warned !== undefined, warned ? `\`${warned}\`` : 'no warning naming it');
    const eComputed = runE.figures['features.computed'] ?? 0;
    const eTotal = eComputed + (runE.figures['features.fromStore'] ?? 0);
    check(
      "E: the pack discarded and E's images recomputed",
      eComputed > 0 && eComputed === eTotal,
      `${n(eComputed)} of ${n(eTotal)} entries computed`,
    );
    const recomputed = localStore(e, 'features');
    const same = [...recomputed].filter(([key, value]) => trainKeys.get(key)?.equals(value) === true).length;
    check(
      "E: the recomputed entries byte-identical to A's",
      recomputed.size > 0 && same === recomputed.size,
      `${n(same)} of ${n(recomputed.size)}`,
    );
    const listed = catalogs(server)
      .flat()
      .some((pack) => pack.sha256 === damaged);
    check('E: the damaged pack dropped from the catalog', !listed, listed ? 'still listed' : 'yes');

    // D: the server stopped; a fresh clone carries on locally with one warning.
    server.stop();
    const d = makeClone(root, 'd', base);
    const target = DOWN_FULL ? [] : ['split'];
    const runD = pipelineRun('D', d, [...target, ...remote], true);
    rows.push({
      step: 'D: fourth clone, server stopped',
      command: `\`pipeline run ${target.join(' ')}${target.length ? ' ' : ''}--remote URL\``,
      run: runD,
      server: 'stopped',
    });
    check('D: exit code 0', runD.code === 0, `exit ${runD.code}`);
    check(
      'D: exactly one warning, that the remote is not usable',
      runD.warnings.length === 1 && /is not usable/.test(runD.warnings[0]),
      runD.warnings.length === 0 ? 'none' : runD.warnings.map((w) => `\`${w}\``).join('; '),
    );
    if (DOWN_FULL)
      checks.push([
        "D: submission.csv byte-identical to A's (recomputed locally)",
        sameFile(path.join(a, 'artifacts/predict/submission.csv'), path.join(d, 'artifacts/predict/submission.csv'))
          ? 'yes'
          : 'differs',
      ]);
  }

  function print(): void {
    console.log(
      `\n${n(trainCount)} train + ${n(testCount)} test photos${IMAGES ? ` (BENCH_IMAGES=${IMAGES})` : ' (the shared data)'}, backbone ${path.basename(backbone)}, default params otherwise; nginx ${url} on loopback\n`,
    );
    console.log(
      '| step | command | wall s | restored (from the remote) | ran | backbone passes | run-cache traffic | server after |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const { step, command, run, server: holds } of rows) {
      const list = (stages: string[]) => (stages.length ? stages.join(', ') : '—');
      console.log(
        `| ${step} | ${command} | ${run.seconds.toFixed(1)} | ${list(byAction(run, 'restored'))} | ${list(byAction(run, 'ran'))} | ${passNote(run)} | ${traffic(run)} | ${holds} |`,
      );
    }
    console.log('\n| check | result |\n|---|---|');
    for (const [what, result] of checks) console.log(`| ${what} | ${result} |`);
    console.log(`\nmachine: ${machine()}`);
    console.log(`commit: ${commit()}; ${new Date().toISOString().slice(0, 10)}`);
  }
}

const root = mkdtempSync(path.join(tmpdir(), 'pipeline-bench-remote-'));
let server: CacheServer | undefined;
const cleanup = () => {
  server?.remove();
  server = undefined;
  if (process.env.BENCH_KEEP !== '1') rmSync(root, { recursive: true, force: true });
  else console.error(`kept ${root}`);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
try {
  server = CacheServer.start();
  await main(root, server);
} finally {
  cleanup();
}
