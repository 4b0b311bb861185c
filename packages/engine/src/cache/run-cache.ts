import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { HashedPath, ManifestEntry, PathHasher } from '../fingerprint/path-hasher.ts';
import { tempNameFor, writeFileAtomicSync } from '../atomic-write.ts';
import { crashPoint } from '../crash-points.ts';

/**
 * The run cache under `.pipeline/cache/`:
 *   objects/ab/cdef…   file contents by sha256, read-only
 *   runs/ab/cdef….json  fingerprint → the outs that run produced
 * A stage whose fingerprint matches an earlier run gets those outs back by
 * hard link (copy across filesystems) instead of running again.
 *
 * Cached objects are read-only and outs are hard links to them, so an
 * accidental in-place edit fails instead of corrupting the cache; every
 * object is re-verified against its hash (cheaply, through the state store)
 * before it is restored.
 */

export interface CachedOut {
  path: string;
  kind: 'file' | 'dir';
  hash: string;
  size: number;
  /** File outs: permission bits. */
  mode?: number;
  /** Folder outs: the files, relative to the folder. */
  manifest?: ManifestEntry[];
}

export interface CachedRun {
  stage: string;
  /**
   * When the run started, in the clock of the stage cache's filesystem (see filesystemNow; absent in records written
   * before it was kept): `pipeline gc` keeps the stage-cache files with an mtime at or after it.
   */
  started?: string;
  created: string;
  outs: CachedOut[];
}

/** One file of the run cache as `pipeline gc` sees it. */
export interface CacheFile {
  path: string;
  bytes: number;
  /** ms since the epoch: the record's mtime (refreshed on every restore), the object's mtime. */
  lastUse: number;
}

export class RunCache {
  private readonly objects: string;
  private readonly runs: string;

  constructor(
    cacheDir: string,
    private readonly hasher: PathHasher,
  ) {
    this.objects = join(cacheDir, 'objects');
    this.runs = join(cacheDir, 'runs');
  }

  objectPath(hash: string): string {
    return join(this.objects, hash.slice(0, 2), hash.slice(2));
  }

  private runPath(fingerprint: string): string {
    return join(this.runs, fingerprint.slice(0, 2), `${fingerprint.slice(2)}.json`);
  }

  /** Store a finished run's outs (absolute path + its hash) under its fingerprint. */
  save(
    stage: string,
    fingerprint: string,
    outs: { path: string; absPath: string; hashed: HashedPath }[],
    started?: number,
  ): void {
    const cached: CachedOut[] = [];
    for (const { path, absPath, hashed } of outs) {
      if (hashed.kind === 'missing') throw new Error(`cannot cache missing out ${path}`);
      if (hashed.kind === 'file') {
        this.storeObject(absPath, hashed.hash);
        cached.push({ path, kind: 'file', hash: hashed.hash, size: hashed.size, mode: hashed.mode });
      } else {
        for (const entry of hashed.manifest) this.storeObject(join(absPath, entry.path), entry.hash);
        cached.push({ path, kind: 'dir', hash: hashed.hash, size: hashed.size, manifest: hashed.manifest });
      }
    }
    const run: CachedRun = {
      stage,
      ...(started === undefined ? {} : { started: new Date(started).toISOString() }),
      created: new Date().toISOString(),
      outs: cached,
    };
    this.writeRecord(fingerprint, run);
  }

  /** Files a record whose objects are all in the store already (a run's, or one fetched from a remote cache). */
  writeRecord(fingerprint: string, run: CachedRun): void {
    const file = this.runPath(fingerprint);
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomicSync(file, JSON.stringify(run));
  }

  /** Link (or copy) a file into the object store unless that content is already there. */
  private storeObject(absPath: string, hash: string): void {
    const target = this.objectPath(hash);
    if (existsSync(target)) return;
    mkdirSync(dirname(target), { recursive: true });
    // A unique temp name: one a killed run left behind (same PID later) must not make this link fail or a copy write into it.
    const temp = tempNameFor(target);
    try {
      try {
        linkSync(absPath, temp);
      } catch {
        copyFileSync(absPath, temp);
      }
      chmodSync(temp, 0o444);
      crashPoint('run cache: object linked');
      renameSync(temp, target);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  }

  /** The recorded run for a fingerprint, if every object it needs is present and intact. */
  async lookup(fingerprint: string): Promise<CachedRun | undefined> {
    let run: CachedRun;
    try {
      run = JSON.parse(readFileSync(this.runPath(fingerprint), 'utf8')) as CachedRun;
    } catch {
      return undefined;
    }
    for (const hash of RunCache.objectHashes(run)) if (!(await this.objectIntact(hash))) return undefined;
    return run;
  }

  /** The record for a fingerprint as stored, unverified (undefined when absent or unreadable). */
  record(fingerprint: string): CachedRun | undefined {
    try {
      return JSON.parse(readFileSync(this.runPath(fingerprint), 'utf8')) as CachedRun;
    } catch {
      return undefined;
    }
  }

  /** A restore is a use: `pipeline gc` ages records by mtime. */
  markUsed(fingerprint: string): void {
    const now = new Date();
    try {
      utimesSync(this.runPath(fingerprint), now, now);
    } catch {
      /* record gone: nothing to age */
    }
  }

  /** Every run record, by fingerprint. */
  listRuns(): (CacheFile & { fingerprint: string })[] {
    return listTwoLevel(this.runs).flatMap((file) =>
      file.name.endsWith('.json')
        ? [{ ...file.entry, fingerprint: file.prefix + file.name.slice(0, -'.json'.length) }]
        : [],
    );
  }

  /** Every stored object, by content hash. */
  listObjects(): (CacheFile & { hash: string })[] {
    return listTwoLevel(this.objects).flatMap((file) =>
      file.name.includes('.tmp-') ? [] : [{ ...file.entry, hash: file.prefix + file.name }],
    );
  }

  /** Temp files a run killed while storing left in the store: garbage, since no run is storing while `pipeline gc` holds the run lock. */
  listLeftoverTemps(): CacheFile[] {
    return [...listTwoLevel(this.objects), ...listTwoLevel(this.runs)].flatMap((file) =>
      file.name.includes('.tmp-') ? [file.entry] : [],
    );
  }

  /** The object hashes a record needs. */
  static objectHashes(run: CachedRun): string[] {
    return run.outs.flatMap((out) =>
      out.kind === 'file' ? [out.hash] : (out.manifest ?? []).map((entry) => entry.hash),
    );
  }

  /** Verify an object still holds the content its name promises; drop it if someone edited it. */
  private async objectIntact(hash: string): Promise<boolean> {
    const path = this.objectPath(hash);
    const hashed = await this.hasher.hashPath(path);
    if (hashed.kind === 'file' && hashed.hash === hash) return true;
    if (hashed.kind !== 'missing') {
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
    }
    return false;
  }

  /** Materialise one cached out at `destination` (which must not exist yet). */
  materialise(out: CachedOut, destination: string): void {
    if (out.kind === 'file') {
      mkdirSync(dirname(destination), { recursive: true });
      this.placeObject(out.hash, destination);
      return;
    }
    mkdirSync(destination, { recursive: true });
    for (const entry of out.manifest ?? []) {
      const target = join(destination, entry.path);
      mkdirSync(dirname(target), { recursive: true });
      this.placeObject(entry.hash, target);
    }
  }

  private placeObject(hash: string, destination: string): void {
    const source = this.objectPath(hash);
    try {
      linkSync(source, destination);
    } catch {
      copyFileSync(source, destination);
      chmodSync(destination, 0o444);
    }
  }
}

/** Files two levels down (`ab/cdef…`), as the run cache shards them. */
function listTwoLevel(dir: string): { prefix: string; name: string; entry: CacheFile }[] {
  const found: { prefix: string; name: string; entry: CacheFile }[] = [];
  let shards: string[];
  try {
    shards = readdirSync(dir);
  } catch {
    return found;
  }
  for (const prefix of shards) {
    let names: string[];
    try {
      names = readdirSync(join(dir, prefix));
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, prefix, name);
      try {
        const st = statSync(path);
        if (st.isFile()) found.push({ prefix, name, entry: { path, bytes: st.size, lastUse: st.mtimeMs } });
      } catch {
        /* removed meanwhile */
      }
    }
  }
  return found;
}
