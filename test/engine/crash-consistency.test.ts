/**
 * Crash consistency: `pipeline run` is SIGKILLed at random moments, over and
 * over, and each time the next run must leave every out byte-equal to a clean
 * run's, and the run after that must be a no-op.
 *
 * The kill moments are drawn from a seeded generator (printed: rerun with
 * CRASH_SEED=<seed> to replay the same choices) and come three ways:
 *   - crash points: the engine kills itself at the N-th intermediate step it
 *     reaches on disk (src/crash-points.ts: a temp file written, an out moved
 *     aside or installed, a lock entry recorded before the commit…), N drawn
 *     over the points a clean run of that kind passes;
 *   - the engine process, after a delay drawn from a clean run's duration;
 *   - the engine's whole process group, the same way.
 * Sometimes the run after the kill is killed too, while it recovers. The next
 * run asks for the killed run's params or goes back to the previous ones.
 *
 * CRASH_KILLS sets how many kills (default 200). The counts (kills by phase,
 * what the recoveries did) are printed at the end.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { CRASH_FILES, CRASH_VALUES } from './crash-fixture.ts';

const CLI = fileURLToPath(new URL('../../packages/engine/bin/pipeline.js', import.meta.url));
const KILLS = Number(process.env.CRASH_KILLS ?? 200);
const SEED = process.env.CRASH_SEED !== undefined ? Number(process.env.CRASH_SEED) : randomInt(2 ** 31);
/** Projects killed side by side: one per core of a CI machine. */
const WORKERS = 2;

/** mulberry32: small, seeded, good enough to spread kill moments. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The CLI in its own process group; SIGKILLed after `killAfterMs` (the process, or with `group` its whole group). */
function runCli(
  dir: string,
  args: string[],
  env: Record<string, string> = {},
  killAfterMs?: number,
  group = false,
): Promise<Ended> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: dir,
    env: { ...process.env, CI: '1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer =
    killAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          try {
            process.kill(group ? -child.pid! : child.pid!, 'SIGKILL');
          } catch {
            /* ended already */
          }
        }, killAfterMs);
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

function newProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pipeline-crash-'));
  for (const [path, content] of Object.entries(CRASH_FILES)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** Every file under out/, path → content. */
function outs(dir: string): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else found[path] = readFileSync(join(dir, path), 'latin1');
    }
  };
  if (existsSync(join(dir, 'out'))) walk('out');
  return Object.fromEntries(Object.entries(found).sort(([a], [b]) => a.localeCompare(b)));
}

/** A crash point's label, with the file names that vary from run to run (hashes, run ids) put as what they are. */
function phaseOf(label: string): string {
  return label
    .replace(/^[0-9a-f]{62}\.json:/, 'run-cache record:')
    .replace(/^[0-9a-f]{32}\.json:/, 'state folder file:')
    .replace(/^\d{8}-\d{6}-\d+(-\d+)?\.json:/, 'run record:');
}

const runArgs = (v: number, force = false): string[] => [
  'run',
  '--json',
  '-j',
  '2',
  '--set',
  `v=${v}`,
  ...(force ? ['--force-all'] : []),
];

type Kind = 'force' | 'switch';

interface Profile {
  /** Clean outs of a run with each value of v. */
  reference: Map<number, Record<string, string>>;
  /** How long a clean run of each kind took, and how many crash points it passed. */
  ms: Record<Kind, number>;
  points: Record<Kind, number>;
}

class Counts {
  kills = 0;
  byPhase = new Map<string, number>();
  completed = 0;
  secondKills = 0;
  outsPutBack = 0;
  stagesStopped = 0;
  staleLocks = 0;
  recoveryRuns = 0;

  phase(name: string): void {
    this.kills++;
    this.byPhase.set(name, (this.byPhase.get(name) ?? 0) + 1);
  }

  toString(): string {
    const phases = [...this.byPhase]
      .sort(([, a], [, b]) => b - a)
      .map(([name, n]) => `    ${String(n).padStart(4)}  ${name}`);
    return [
      `crash consistency, seed ${SEED}: ${this.kills} kills, each followed by a recovery run (outs byte-equal to a clean run's) and a no-op run`,
      `  kills by phase (crash point label, or how a timed kill was sent):`,
      ...phases,
      `  runs that ended before their kill moment (not counted): ${this.completed}`,
      `  recovery runs also killed while recovering: ${this.secondKills}`,
      `  recoveries: ${this.recoveryRuns} runs after a kill; ${this.outsPutBack} put moved-aside outs back, ${this.stagesStopped} stopped a killed run's stage processes, ${this.staleLocks} cleared the killed run's lock`,
    ].join('\n');
  }
}

async function profile(): Promise<Profile> {
  const reference = new Map<number, Record<string, string>>();
  for (const v of CRASH_VALUES) {
    const dir = newProject();
    try {
      const r = await runCli(dir, runArgs(v));
      assert.equal(r.code, 0, r.stderr);
      reference.set(v, outs(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const [v, files] of reference) assert.ok(Object.keys(files).length > 80, `v=${v}: the fixture makes many outs`);
  // One project through both kinds of run, counting the crash points each passes.
  const dir = newProject();
  const log = `${dir}.points`;
  const measure = async (args: string[]): Promise<{ ms: number; points: number }> => {
    rmSync(log, { force: true });
    const r = await runCli(dir, args, { PIPELINE_CRASH_LOG: log });
    assert.equal(r.code, 0, r.stderr);
    return { ms: r.ms, points: readFileSync(log, 'utf8').split('\n').filter(Boolean).length };
  };
  try {
    for (const v of CRASH_VALUES) await measure(runArgs(v));
    const force = await measure(runArgs(1, true));
    const switched = await measure(runArgs(2));
    return {
      reference,
      ms: { force: force.ms, switch: switched.ms },
      points: { force: force.points, switch: switched.points },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(log, { force: true });
  }
}

async function worker(index: number, kills: number, known: Profile, counts: Counts): Promise<void> {
  const random = generator(SEED + index);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const dir = newProject();
  const log = `${dir}.points`;
  try {
    const first = await runCli(dir, runArgs(1));
    assert.equal(first.code, 0, first.stderr);
    let current = 1;
    let killed = 0;
    for (let iteration = 1; killed < kills; iteration++) {
      assert.ok(
        iteration <= kills * 4,
        `worker ${index}: only ${killed} of ${iteration - 1} runs were killed before they ended`,
      );
      const target = pick(CRASH_VALUES.filter((v) => v !== current));
      const kind: Kind = random() < 0.4 ? 'force' : 'switch';
      const how = pick(['crash point', 'crash point', 'engine', 'process group'] as const);
      const point = 1 + Math.floor(random() * known.points[kind]);
      const delay = Math.floor(random() * known.ms[kind] * 1.2);
      rmSync(log, { force: true });
      const doomed =
        how === 'crash point'
          ? await runCli(dir, runArgs(target, kind === 'force'), {
              PIPELINE_CRASH_AT: String(point),
              PIPELINE_CRASH_LOG: log,
            })
          : await runCli(dir, runArgs(target, kind === 'force'), {}, delay, how === 'process group');
      const context = () =>
        `seed ${SEED} (CRASH_SEED=${SEED} replays it), worker ${index}, iteration ${iteration}: ${kind} run v=${current}→${target} killed by ` +
        `${how === 'crash point' ? `crash point ${point}` : `${how} after ${delay} ms`}\n--- killed run's stderr ---\n${doomed.stderr}`;
      if (doomed.signal !== 'SIGKILL') {
        assert.equal(doomed.code, 0, `a run that was not killed failed: ${context()}`);
        counts.completed++;
      } else {
        killed++;
        counts.phase(
          how === 'crash point' ? phaseOf(readFileSync(log, 'utf8').trim().split('\n').at(-1) ?? '?') : `timed: ${how}`,
        );
        if (random() < 0.1) {
          // The run after the kill, killed in turn while it recovers or reruns.
          const again = await runCli(dir, runArgs(target), {}, Math.floor(random() * known.ms.switch));
          if (again.signal === 'SIGKILL') counts.secondKills++;
        }
      }
      const next = pick([target, current]);
      const recovery = await runCli(dir, runArgs(next));
      assert.equal(
        recovery.code,
        0,
        `the run after the kill failed (v=${next}): ${context()}\n--- its stderr ---\n${recovery.stderr}`,
      );
      if (doomed.signal === 'SIGKILL') {
        counts.recoveryRuns++;
        if (/note: put back previous outs/.test(recovery.stderr)) counts.outsPutBack++;
        if (/note: stopped stage/.test(recovery.stderr)) counts.stagesStopped++;
        if (/note: cleared a stale run lock/.test(recovery.stderr)) counts.staleLocks++;
      }
      assert.doesNotMatch(recovery.stderr, /note: kept /, context());
      assert.deepEqual(
        outs(dir),
        known.reference.get(next),
        `outs after the run that followed the kill (v=${next}) differ from a clean run's: ${context()}\n--- its stderr ---\n${recovery.stderr}`,
      );
      const noop = await runCli(dir, runArgs(next));
      assert.equal(noop.code, 0, noop.stderr);
      const actions = (JSON.parse(noop.stdout) as { stage: string; action: string }[]).map(
        (s) => `${s.stage} ${s.action}`,
      );
      assert.deepEqual(
        actions,
        ['gen skipped', 'shape skipped', 'join skipped', 'fresh skipped'],
        `the run after the recovery is not a no-op: ${context()}`,
      );
      const temps = [...readdirSync(dir), ...readdirSync(join(dir, '.pipeline'))].filter((name) =>
        name.includes('.tmp-'),
      );
      assert.deepEqual(
        temps,
        [],
        `a killed run's temp file was left beside pipeline.lock or in .pipeline/: ${context()}`,
      );
      const tmp = join(dir, '.pipeline/tmp');
      assert.deepEqual(
        existsSync(tmp) ? readdirSync(tmp) : [],
        [],
        `a run folder was left in .pipeline/tmp: ${context()}`,
      );
      current = next;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(log, { force: true });
  }
}

describe('crash consistency', () => {
  const counts = new Counts();
  after(() => console.log(counts.toString()));

  test(`${KILLS} SIGKILLs at random moments: each next run restores clean outs, the one after is a no-op`, async (t) => {
    t.diagnostic(`seed ${SEED}: rerun with CRASH_SEED=${SEED} to replay these kill choices`);
    const known = await profile();
    t.diagnostic(
      `clean runs: --force-all ${known.ms.force} ms, ${known.points.force} crash points; switch of v ${known.ms.switch} ms, ${known.points.switch} crash points`,
    );
    const share = Array.from(
      { length: WORKERS },
      (_, i) => Math.floor(KILLS / WORKERS) + (i < KILLS % WORKERS ? 1 : 0),
    );
    await Promise.all(share.map((kills, i) => worker(i, kills, known, counts)));
    assert.ok(counts.kills >= KILLS);
    for (const line of counts.toString().split('\n')) t.diagnostic(line);
  });
});
