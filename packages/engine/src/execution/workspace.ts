import { join, resolve } from 'node:path';
import type { Pipeline, ResolvedStage } from '../config/pipeline.ts';
import type { LockDocument, OutRecord } from '../cache/lock-file.ts';
import { lockPathFor, readLock } from '../cache/lock-file.ts';
import { RunCache } from '../cache/run-cache.ts';
import type { RemoteRunCache } from '../cache/remote-run-cache.ts';
import { STAGE_CACHE_FOLDER } from '../cache/stage-caches.ts';
import type { HashedPath } from '../fingerprint/path-hasher.ts';
import { takePrefetchedScan } from '../fingerprint/folder-prefetch.ts';
import { PathHasher } from '../fingerprint/path-hasher.ts';
import { MISSING_HASH, fingerprintStage, hashDep } from '../fingerprint/stage-fingerprint.ts';
import type { DepLocator, StageFingerprint } from '../fingerprint/stage-fingerprint.ts';
import { StateStore } from '../fingerprint/state-store.ts';
import { staleReasons } from './stale-reasons.ts';
import type { StageReason } from './stage-reason.ts';

/** A stage looked at now: its fingerprint, its outs on disk, and why (if at all) it is stale. */
export interface StageEvaluation {
  fingerprint: StageFingerprint;
  outs: OutRecord[];
  /** How it differs from what the lock recorded; empty when up to date. Flags (forced, always_run) are decide()'s. */
  reasons: StageReason[];
}

export function outRecord(path: string, hashed: HashedPath): OutRecord {
  if (hashed.kind === 'missing') return { path, hash: MISSING_HASH, size: 0 };
  if (hashed.kind === 'file') return { path, hash: hashed.hash, size: hashed.size };
  return { path, hash: hashed.hash, size: hashed.size, files: hashed.files };
}

/** The engine's view of one project: `.pipeline/` (state store, run cache, logs, temp) plus the lock file. */
export class Workspace implements DepLocator {
  readonly dotDir: string;
  readonly hasher: PathHasher;
  readonly runCache: RunCache;
  readonly lockFile: string;
  /** The remote cache this command uses (set by the command from `remote:`, --remote, PIPELINE_REMOTE); absent: none. */
  remote?: RemoteRunCache;

  /** Protected for sweep variants (src/experiments/variant-workspace.ts), which put outs in their own folder. */
  protected constructor(
    readonly pipeline: Pipeline,
    private readonly store: StateStore,
    readonly lock: LockDocument,
    /** Problems found reading pipeline.lock (malformed entries, ignored). */
    readonly lockWarnings: string[],
  ) {
    this.dotDir = join(pipeline.root, '.pipeline');
    this.hasher = new PathHasher(store, takePrefetchedScan);
    this.runCache = new RunCache(join(this.dotDir, 'cache'), this.hasher);
    this.lockFile = lockPathFor(pipeline.file);
  }

  static async open(pipeline: Pipeline): Promise<Workspace> {
    const store = StateStore.load(join(pipeline.root, '.pipeline', 'state.json'));
    const { doc, warnings } = await readLock(lockPathFor(pipeline.file));
    return new Workspace(pipeline, store, doc, warnings);
  }

  get root(): string {
    return this.pipeline.root;
  }

  stage(name: string): ResolvedStage {
    const stage = this.pipeline.stages.get(name);
    if (!stage) throw new Error(`unknown stage ${name}`);
    return stage;
  }

  /** The stage's persistent cache folder (`ctx.cacheDir`, `PIPELINE_CACHE_DIR`). */
  stageCacheDir(stage: string): string {
    return join(this.dotDir, STAGE_CACHE_FOLDER, stage);
  }

  absolute(path: string): string {
    return resolve(this.root, path);
  }

  globRoot(_pattern: string): string {
    return this.pipeline.root;
  }

  async hashOuts(stage: ResolvedStage): Promise<{ path: string; absPath: string; hashed: HashedPath }[]> {
    const hashed = [];
    for (const path of stage.outs) {
      const absPath = this.absolute(path);
      hashed.push({ path, absPath, hashed: await this.hasher.hashPath(absPath) });
    }
    return hashed;
  }

  /** `predicted`: dep contents to assume instead of reading the disk (see restore-prediction.ts). */
  async evaluate(name: string, predicted?: ReadonlyMap<string, HashedPath>): Promise<StageEvaluation> {
    const stage = this.stage(name);
    const fingerprint = await fingerprintStage(stage, this.root, this, this.hasher, predicted);
    const outs = (await this.hashOuts(stage)).map(({ path, hashed }) => outRecord(path, hashed));
    return { fingerprint, outs, reasons: staleReasons(fingerprint, outs, this.lock.stages[name]) };
  }

  /** The deps whose content now differs from `fingerprint` (taken before the stage started). */
  async depsChangedSince(fingerprint: StageFingerprint, stage: ResolvedStage): Promise<string[]> {
    const changed: string[] = [];
    for (const [i, dep] of stage.deps.entries()) {
      const { hashed } = await hashDep(dep, this, this.hasher);
      const hash = hashed.kind === 'missing' ? MISSING_HASH : hashed.hash;
      if (hash !== fingerprint.deps[i]?.hash) changed.push(dep.written);
    }
    return changed;
  }

  /** Persist the state store (hash cache); cheap no-op when nothing new was hashed. */
  saveState(): void {
    this.store.save();
  }
}
