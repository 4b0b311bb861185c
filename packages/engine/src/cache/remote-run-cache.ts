/**
 * The run cache through a remote: a run record travels as `ac/<fingerprint>`
 * (the local record's JSON), each object as `cas/<sha256>`. Uploads put every
 * object first and the record last, so a record on the server always names
 * objects that are there. A download verifies every object against its hash
 * into the local object store, then files the record locally: from there on
 * a restore is the local restore, with its atomicity.
 */
import { chmodSync, existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { RunCache, type CachedOut, type CachedRun } from './run-cache.ts';
import { eachLimited, type RemoteStore } from './remote-store.ts';

/** Requests in flight at once, per direction. */
export const REMOTE_CONCURRENCY = 8;

export type PushResult = 'pushed' | 'no-record' | 'failed';
export type PullResult = 'pulled' | 'present' | 'missing' | 'failed';

export class RemoteRunCache {
  /** Records found (and whose objects are all on the server), by fingerprint. */
  private readonly found = new Map<string, CachedRun | undefined>();
  private readonly uploads = new Set<Promise<unknown>>();
  private readonly queue: (() => Promise<void>)[] = [];
  private active = 0;
  /** Stages whose run was uploaded in this process. */
  readonly uploaded: string[] = [];
  /** Stages restored from the remote in this process. */
  readonly downloaded: string[] = [];

  constructor(
    readonly store: RemoteStore,
    private readonly local: RunCache,
  ) {}

  /** The remote's record for a fingerprint, when every object it names is on the server too. */
  async lookup(fingerprint: string): Promise<CachedRun | undefined> {
    if (this.found.has(fingerprint)) return this.found.get(fingerprint);
    const run = await this.record(fingerprint);
    let complete = run !== undefined;
    if (run) {
      const missing = RunCache.objectHashes(run).filter((hash) => !existsSync(this.local.objectPath(hash)));
      await eachLimited(missing, REMOTE_CONCURRENCY, async (hash) => {
        if (complete && !(await this.store.hasBlob(hash))) complete = false;
      });
    }
    const usable = complete && this.store.usable ? run : undefined;
    this.found.set(fingerprint, usable);
    return usable;
  }

  /** The record as the server has it, if it is well-formed (a damaged one is a miss). */
  private async record(fingerprint: string): Promise<CachedRun | undefined> {
    const bytes = await this.store.getRecord(fingerprint);
    if (!bytes) return undefined;
    try {
      const run = JSON.parse(bytes.toString('utf8')) as CachedRun;
      if (wellFormed(run)) return run;
    } catch {
      /* reported below */
    }
    // Not a warning per stage: a damaged record only costs the run it would have saved.
    return undefined;
  }

  /**
   * Downloads the run's objects into the local store (each verified) and files
   * its record there; false when an object is missing or damaged (the stage runs).
   */
  async fetch(fingerprint: string, run: CachedRun): Promise<boolean> {
    let ok = true;
    const missing = [...new Set(RunCache.objectHashes(run))].filter((hash) => !existsSync(this.local.objectPath(hash)));
    // Every object is fetched even after one failed: each damaged copy is found (and replaced when the stage's run is uploaded).
    await eachLimited(missing, REMOTE_CONCURRENCY, async (hash) => {
      const target = this.local.objectPath(hash);
      if (await this.store.downloadBlob(hash, target, `an object of stage ${run.stage} (${hash.slice(0, 12)})`))
        chmodSync(target, 0o444);
      else ok = false;
    });
    if (!ok) {
      this.found.set(fingerprint, undefined);
      return false;
    }
    this.local.writeRecord(fingerprint, run);
    this.downloaded.push(run.stage);
    return true;
  }

  /** Uploads a local run (objects, then record); a no-op success when the server has the record already. */
  async push(fingerprint: string): Promise<PushResult> {
    const run = this.local.record(fingerprint);
    if (!run) return 'no-record';
    if (!this.store.writable) return 'failed';
    let ok = true;
    await eachLimited([...new Set(RunCache.objectHashes(run))], REMOTE_CONCURRENCY, async (hash) => {
      if (ok && !(await this.store.uploadFile(hash, this.local.objectPath(hash)))) ok = false;
    });
    if (!ok) return 'failed';
    // Records of one fingerprint describe the same outs: one already there need not be sent again.
    if (
      !(await this.store.hasRecord(fingerprint)) &&
      !(await this.store.putRecord(fingerprint, Buffer.from(JSON.stringify(run))))
    )
      return 'failed';
    this.uploaded.push(run.stage);
    return 'pushed';
  }

  /** Fetches the remote's run for a fingerprint into the local run cache. */
  async pull(fingerprint: string): Promise<PullResult> {
    if (await this.local.lookup(fingerprint)) return 'present';
    const run = await this.lookup(fingerprint);
    if (!run) return this.store.usable ? 'missing' : 'failed';
    return (await this.fetch(fingerprint, run)) ? 'pulled' : 'failed';
  }

  /** Starts uploading a finished run in the background (at most REMOTE_CONCURRENCY / 2 runs at once); `settle` waits. */
  queueUpload(fingerprint: string): void {
    if (!this.store.writable) return;
    const job = new Promise<void>((resolve) => {
      this.queue.push(async () => {
        try {
          await this.push(fingerprint);
        } finally {
          resolve();
        }
      });
    });
    this.uploads.add(job);
    void job.then(() => this.uploads.delete(job));
    this.pump();
  }

  private pump(): void {
    while (this.active < Math.max(1, REMOTE_CONCURRENCY / 4) && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.active++;
      void next().finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  /** Waits for every queued upload: a run does not exit with uploads half done. */
  async settle(): Promise<void> {
    while (this.uploads.size > 0) await Promise.all([...this.uploads]);
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** A record from elsewhere is data, not trusted: hashes must be hashes and paths must stay inside their out. */
function wellFormed(run: CachedRun): boolean {
  if (!run || typeof run !== 'object' || typeof run.stage !== 'string' || !Array.isArray(run.outs)) return false;
  return run.outs.every((out: CachedOut) => {
    if (typeof out?.path !== 'string' || typeof out.hash !== 'string') return false;
    if (out.kind === 'file') return SHA256.test(out.hash);
    if (out.kind !== 'dir' || !Array.isArray(out.manifest)) return false;
    return out.manifest.every(
      (entry) => typeof entry?.path === 'string' && SHA256.test(entry.hash) && safeRelative(entry.path),
    );
  });
}

function safeRelative(path: string): boolean {
  return path !== '' && !isAbsolute(path) && !path.split(/[\\/]/).some((part) => part === '..' || part === '');
}
