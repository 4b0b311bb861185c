/**
 * `pipeline gc`: what may go from the run cache and the stage caches, and
 * removing it. Kept:
 *   - run records whose fingerprint some lock entry holds (any `*.lock` next to
 *     the pipeline files), and records used (stored or restored) in the last
 *     `keepDays` days; then every object a kept record needs, and the objects
 *     the caller names (the plot files run records point to, for `compare`);
 *   - stage-cache files used in the last `keepDays` days, and those used by the
 *     run a lock entry comes from (mtime at or after that run's start, from its
 *     run-cache record, stamped in the filesystem's own clock so a file written
 *     in the run's first tick is not older than the run; a stage with
 *     `cache: false` has no record, so only age counts).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readLock } from './lock-file.ts';
import { isPipelineError } from '../errors.ts';
import { RunCache, type CacheFile } from './run-cache.ts';
import { listStageCaches } from './stage-caches.ts';

export interface GarbageGroup {
  /** "run cache" or "stage cache <name>". */
  store: string;
  remove: CacheFile[];
  keep: CacheFile[];
}

const DAY_MS = 24 * 3600 * 1000;

/** Fingerprints in every lock file of the project folder, by stage name. */
async function lockedFingerprints(root: string): Promise<Map<string, Set<string>>> {
  const byStage = new Map<string, Set<string>>();
  for (const name of readdirSync(root)
    .filter((n) => n.endsWith('.lock'))
    .sort()) {
    let stages;
    try {
      stages = (await readLock(join(root, name))).doc.stages;
    } catch (error) {
      // Unreadable: what it protects is unknown, so collecting could drop what its run needs.
      if (isPipelineError(error, 'lock-unreadable')) throw error;
      continue; // not a pipeline lock (or damaged): it protects nothing
    }
    for (const [stage, entry] of Object.entries(stages)) {
      if (!byStage.has(stage)) byStage.set(stage, new Set());
      byStage.get(stage)!.add(entry.fingerprint);
    }
  }
  return byStage;
}

export async function planGarbage(options: {
  root: string;
  dotDir: string;
  runCache: RunCache;
  keepDays: number;
  /** Object hashes to keep whatever their run records say. */
  keepObjects?: Iterable<string>;
  now?: number;
}): Promise<GarbageGroup[]> {
  const cutoff = (options.now ?? Date.now()) - options.keepDays * DAY_MS;
  const locked = await lockedFingerprints(options.root);
  const lockedAll = new Set([...locked.values()].flatMap((s) => [...s]));

  const runs = { store: 'run cache', remove: [] as CacheFile[], keep: [] as CacheFile[] };
  const neededObjects = new Set<string>(options.keepObjects ?? []);
  for (const run of options.runCache.listRuns()) {
    const record = options.runCache.record(run.fingerprint);
    if (record && (lockedAll.has(run.fingerprint) || run.lastUse >= cutoff)) {
      runs.keep.push(run);
      for (const hash of RunCache.objectHashes(record)) neededObjects.add(hash);
    } else runs.remove.push(run);
  }
  for (const object of options.runCache.listObjects())
    (neededObjects.has(object.hash) ? runs.keep : runs.remove).push(object);
  runs.remove.push(...options.runCache.listLeftoverTemps());

  const groups: GarbageGroup[] = [runs];
  for (const cache of listStageCaches(options.dotDir)) {
    // Files the locked run used were touched during it: keep what is at least as recent as its start (file clock, as their mtimes).
    const starts = [...(locked.get(cache.stage) ?? [])].flatMap((fingerprint) => {
      const started = options.runCache.record(fingerprint)?.started;
      return started ? [Date.parse(started)] : [];
    });
    const since = Math.min(cutoff, ...starts);
    const group: GarbageGroup = { store: `stage cache ${cache.stage}`, remove: [], keep: [] };
    for (const file of cache.files) (file.lastUse >= since ? group.keep : group.remove).push(file);
    groups.push(group);
  }
  return groups;
}

/** Removes what the plan says; returns the files and bytes actually removed. */
export function removeGarbage(groups: readonly GarbageGroup[]): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const group of groups) {
    for (const file of group.remove) {
      try {
        rmSync(file.path);
        files++;
        bytes += file.bytes;
      } catch {
        /* already gone */
      }
    }
  }
  return { files, bytes };
}
