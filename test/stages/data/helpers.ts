/** Shared helpers for the data tests: temp folders, a hand-made stage context, paths to ../shared. */
import { mkdtemp, rm, symlink, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StageContext, Progress, RunFigures } from 'pipeline-ml-engine';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SHARED = path.resolve(REPO_ROOT, '../shared');
export const TRAIN_DIR = path.join(SHARED, 'datasets/dogs-vs-cats/train');
export const BAD_DIR = path.join(SHARED, 'datasets/bad-images');
export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures');

export async function tempDir(prefix = 'pipeline-data-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Real photos by Kaggle name, e.g. photo('cat', 10) → …/train/cat.10.jpg. */
export function photo(kind: 'cat' | 'dog', id: number): string {
  return path.join(TRAIN_DIR, `${kind}.${id}.jpg`);
}

/** Ids that exist in the shared train folder (the first 12 of each class). */
export const CAT_IDS = [2, 3, 4, 7, 8, 10, 11, 12, 13, 15, 17, 19];
export const DOG_IDS = [2, 4, 7, 8, 9, 10, 11, 14, 15, 16, 17, 19];

/** A folder of symlinks named like the Kaggle layout, pointing at real photos. */
export async function linkSubset(
  dir: string,
  cats: number,
  dogs: number,
  layout: 'flat' | 'folders' = 'flat',
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [kind, ids, n] of [
    ['cat', CAT_IDS, cats],
    ['dog', DOG_IDS, dogs],
  ] as const) {
    for (const id of ids.slice(0, n)) {
      const target = layout === 'flat' ? path.join(dir, `${kind}.${id}.jpg`) : path.join(dir, `${kind}s`, `${id}.jpg`);
      await mkdir(path.dirname(target), { recursive: true });
      await symlink(photo(kind, id), target);
    }
  }
}

export interface RecordedContext extends StageContext {
  logs: string[];
  warnings: string[];
  progressReports: Progress[];
  /** What the stage passed to ctx.report, merged. */
  figures: RunFigures;
}

export function makeContext(opts: {
  root: string;
  params: Record<string, unknown>;
  deps?: string[];
  outs: string[];
}): RecordedContext {
  const logs: string[] = [];
  const warnings: string[] = [];
  const progressReports: Progress[] = [];
  const figures: RunFigures = {};
  return {
    stage: 'test',
    root: opts.root,
    params: opts.params,
    deps: opts.deps ?? [],
    outs: opts.outs,
    cacheDir: path.join(opts.root, '.pipeline', 'stage-cache', 'test'),
    progress: (p) => progressReports.push(p),
    log: (m) => logs.push(m),
    warn: (m) => warnings.push(m),
    report: (f) => Object.assign(figures, f),
    logs,
    warnings,
    progressReports,
    figures,
  };
}
