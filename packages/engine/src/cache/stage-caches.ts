/**
 * The per-stage cache folders, `.pipeline/stage-cache/<stage>/` (`ctx.cacheDir`):
 * the engine creates them and ages them for `pipeline gc`; what is inside
 * belongs to the stage. A file's last use is its mtime (stages touch what
 * they reuse).
 */
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheFile } from './run-cache.ts';

export const STAGE_CACHE_FOLDER = 'stage-cache';

export interface StageCache {
  stage: string;
  dir: string;
  files: CacheFile[];
}

/** Every stage cache folder under `.pipeline/` with its files (recursively). */
export function listStageCaches(dotDir: string): StageCache[] {
  const root = join(dotDir, STAGE_CACHE_FOLDER);
  let stages: string[];
  try {
    stages = readdirSync(root).sort();
  } catch {
    return [];
  }
  return stages.flatMap((stage) => {
    const dir = join(root, stage);
    return statSync(dir, { throwIfNoEntry: false })?.isDirectory() ? [{ stage, dir, files: filesUnder(dir) }] : [];
  });
}

function filesUnder(dir: string): CacheFile[] {
  const found: CacheFile[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else if (entry.isFile()) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st) found.push({ path, bytes: st.size, lastUse: st.mtimeMs });
    }
  }
  return found;
}

/**
 * "Now" in the clock that stamps the files of `dir`: the mtime of a file
 * created there. File times come from the kernel's coarse clock (up to a tick
 * behind Date.now(), and on a network filesystem from the server's clock), so
 * a run's start read from Date.now() can be later than the mtime of a file the
 * run wrote in its first milliseconds. Any file written in `dir` after this
 * call has an mtime at least as large, whatever the filesystem's granularity;
 * rounding Date.now() down would need that granularity, which no call reports.
 */
export function filesystemNow(dir: string): number {
  const marker = join(dir, `.pipeline-clock-${process.pid}`);
  writeFileSync(marker, '');
  try {
    return statSync(marker).mtimeMs;
  } finally {
    rmSync(marker, { force: true });
  }
}

export function totalBytes(files: readonly { bytes: number }[]): number {
  return files.reduce((sum, f) => sum + f.bytes, 0);
}

/** 1234567 → "1.2 MB" (decimal units, like du --si). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
