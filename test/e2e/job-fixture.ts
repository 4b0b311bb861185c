/**
 * What the e2e tests share: the job's temp project on a few of the shared Kaggle photos, the real CLI run in
 * it, and the figures its run record holds. One copy, so every e2e file drives the job the same way.
 * Not a test file: its name does not end in .test.ts, so `npm test` does not run it on its own.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricValues } from '../../packages/engine/src/experiments/metric-values.ts';
import { listRuns, runFigures } from '../../packages/engine/src/experiments/run-record.ts';
import { HUNG_AFTER_MS } from '../failsafe.ts';
import { jobPipelineYaml } from '../job-pipeline.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Data too large for git, beside the repo (read-only); a test that needs it skips where it is absent. */
export const SHARED = path.resolve(REPO, '../shared');
export const TRAIN_SRC = path.join(SHARED, 'datasets/dogs-vs-cats/train');
export const TEST_SRC = path.join(SHARED, 'datasets/dogs-vs-cats/test');
/** The smallest backbone: the e2e tests check the job's mechanics, not its accuracy, on 2 cores. */
export const BACKBONE = path.join(SHARED, 'models/mobilenet_v1_0.25_224');
/** The CLI as a user runs it, so argument parsing, output and exit codes are under test too. */
export const PIPELINE_BIN = path.join(REPO, 'packages/engine/bin/pipeline.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout then stderr: everything the run printed, for matching a line wherever it went and for failure messages. */
  output: string;
}

/**
 * `pipeline <args>` in `dir`. CI=1: the plain line-by-line output a log gets. HUNG_AFTER_MS: a hung run fails
 * the test instead of stalling the suite.
 */
export function cli(dir: string, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [PIPELINE_BIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
    timeout: HUNG_AFTER_MS,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, output: r.stdout + r.stderr };
}

/**
 * Paths of the shared training photos of one kind, `from` … `from + count − 1` in numeric order (cat.2 before
 * cat.10): the same photos on every machine, whatever order readdir gives.
 */
export function photos(kind: 'cat' | 'dog', from: number, count: number): string[] {
  return readdirSync(TRAIN_SRC)
    .filter((f) => f.startsWith(`${kind}.`))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
    .slice(from, from + count)
    .map((f) => path.join(TRAIN_SRC, f));
}

/** Copies `files` into `folder` under their own names (copies, not links: the shared data is read-only). */
export function copyInto(files: string[], folder: string): void {
  for (const f of files) copyFileSync(f, path.join(folder, path.basename(f)));
}

/**
 * Makes `dir` a project of the job: empty data/train and data/test, the repo's stages/ linked in (so the
 * stages under test run, never a copy), and the repo's pipeline.yaml with `params` overriding its values.
 */
export function jobProject(dir: string, params: Record<string, Record<string, unknown>>): string {
  mkdirSync(path.join(dir, 'data/train'), { recursive: true });
  mkdirSync(path.join(dir, 'data/test'), { recursive: true });
  symlinkSync(path.join(REPO, 'stages'), path.join(dir, 'stages'), 'dir');
  writeFileSync(path.join(dir, 'pipeline.yaml'), jobPipelineYaml(params));
  return dir;
}

/** The figures the stages reported in the newest run record of `dir`, as `stage.name`. */
export function lastRunFigures(dir: string): MetricValues {
  return runFigures(listRuns(path.join(dir, '.pipeline')).at(-1)!);
}

/**
 * The features stage's store counts in the newest run (absent when it did not run): from the run record,
 * since its outs are the same bytes whether a row was computed or came from the store.
 */
export function store(dir: string): { fromStore: number | undefined; computed: number | undefined } {
  const figures = lastRunFigures(dir);
  return { fromStore: figures['features.fromStore'], computed: figures['features.computed'] };
}
