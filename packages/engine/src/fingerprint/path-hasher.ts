import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, unlinkSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { hashFileContent, hashFileContentSync, sha256 } from './content-hash.ts';
import type { FolderFile, StateStore } from './state-store.ts';
import { statKeyOf } from './state-store.ts';

/** One file inside a hashed folder or glob: path relative to the folder (always `/`-separated). */
export interface ManifestEntry {
  path: string;
  hash: string;
  size: number;
  /** Permission bits, so a restored executable stays executable. */
  mode: number;
}

export type HashedPath =
  | { kind: 'missing' }
  | { kind: 'file'; hash: string; size: number; mode: number }
  /** A folder (or a glob's matches): hash of its sorted manifest, total size, file count. */
  | { kind: 'dir'; hash: string; size: number; files: number; manifest: ManifestEntry[] };

/** How many files are read and hashed at once: enough to keep the disk busy, few enough to bound memory. */
const HASH_CONCURRENCY = 16;

/**
 * Hashes files, folders and file lists, asking the state store first. An
 * unchanged folder costs one scan (a stat per file, by GNU find when there is
 * one) compared whole against the scan it was last hashed from; a changed one
 * re-reads only the files whose stat changed.
 */
export class PathHasher {
  /** `prefetched`: a scan of the folder made earlier in this command, if one is still current (folder-prefetch.ts). */
  constructor(
    private readonly store: StateStore,
    private readonly prefetched?: (absFolder: string) => Promise<FolderScan | undefined> | undefined,
  ) {}

  async hashPath(absPath: string): Promise<HashedPath> {
    let stats: Stats;
    try {
      stats = statSync(absPath);
    } catch {
      this.store.forget(absPath);
      return { kind: 'missing' };
    }
    if (stats.isDirectory()) return this.hashFolder(absPath);
    const [hash] = await this.hashFiles([foundFile(absPath, undefined, stats)]);
    return { kind: 'file', hash, size: Number(stats.size), mode: Number(stats.mode) & 0o777 };
  }

  /** A folder hashes as the sorted manifest of (relative path, file hash). */
  async hashFolder(absFolder: string): Promise<HashedPath> {
    const scan = (await this.prefetched?.(absFolder)) ?? scanFolder(absFolder);
    const record = this.store.folder(absFolder, scan.digest);
    if (record) {
      // Every file has the path, stat and mode it had when the folder hashed to this: only the manifest is still to be had, if asked for.
      let manifest: ManifestEntry[] | undefined;
      const folderManifest = () => this.recordedManifest(absFolder, scan);
      return {
        kind: 'dir',
        hash: record.hash,
        size: record.size,
        files: record.files,
        get manifest() {
          return (manifest ??= folderManifest());
        },
      };
    }
    const found = scan.files();
    const known = new Map<string, FolderFile>();
    for (const file of this.store.folderFiles(absFolder)?.files ?? []) known.set(file[0], file);
    const hashes = await this.hashFiles(found, (file) => {
      const previous = known.get(file.rel!);
      return previous && previous[1] === file.statKey ? previous[2] : undefined;
    });
    const hashed = hashedManifest(
      found.map((file, i) => ({ path: file.rel!, hash: hashes[i], size: file.size, mode: file.mode })),
    );
    const statKeys = new Map(found.map((file) => [file.rel!, file.statKey]));
    this.store.rememberFolder(
      absFolder,
      { scan: scan.digest, hash: hashed.hash, size: hashed.size, files: hashed.files },
      hashed.manifest.map((entry): FolderFile => [
        entry.path,
        statKeys.get(entry.path)!,
        entry.hash,
        entry.size,
        entry.mode,
      ]),
    );
    return hashed;
  }

  /** Hash an explicit file list (glob matches) as if they were one folder rooted at `base`. */
  async hashFileList(base: string, absFiles: string[]): Promise<HashedPath> {
    const found: FoundFile[] = [];
    for (const absPath of absFiles) {
      try {
        const stats = statSync(absPath);
        if (stats.isFile()) found.push(foundFile(absPath, undefined, stats));
      } catch {
        // Vanished between glob and stat: simply not part of the manifest.
      }
    }
    const hashes = await this.hashFiles(found);
    return hashedManifest(
      found.map((file, i) => ({
        path: toPosix(relative(base, file.absPath)),
        hash: hashes[i],
        size: file.size,
        mode: file.mode,
      })),
    );
  }

  /**
   * The manifest of a folder whose scan matched its record, from the files kept with the record. Should they
   * not match the scan (lost, or written by another run), the scanned files are hashed again, synchronously.
   */
  private recordedManifest(absFolder: string, scan: FolderScan): ManifestEntry[] {
    const kept = this.store.folderFiles(absFolder);
    if (kept && kept.scan === scan.digest)
      return kept.files.map(([path, , hash, size, mode]) => ({ path, hash, size, mode }));
    const known = new Map((kept?.files ?? []).map((file) => [file[0], file]));
    const manifest = scan.files().map((file): ManifestEntry => {
      const previous = known.get(file.rel!);
      const hash = previous && previous[1] === file.statKey ? previous[2] : hashFileContentSync(file.absPath);
      return { path: file.rel!, hash, size: file.size, mode: file.mode };
    });
    return hashedManifest(manifest).manifest;
  }

  /**
   * Hash many files: cached ones answer at once, the rest are read with bounded concurrency.
   * `cached` answers from elsewhere than the store's files (a folder's files); what it misses is not remembered one by one.
   */
  private async hashFiles(files: FoundFile[], cached?: (file: FoundFile) => string | undefined): Promise<string[]> {
    const results = new Array<string>(files.length);
    const misses: number[] = [];
    for (let i = 0; i < files.length; i++) {
      const hash = cached ? cached(files[i]) : this.store.lookup(files[i].absPath, files[i].statKey);
      if (hash) results[i] = hash;
      else misses.push(i);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < misses.length) {
        const i = misses[next++];
        const { absPath, size, statKey } = files[i];
        results[i] = await hashFileContent(absPath, size);
        if (!cached) this.store.remember(absPath, statKey, results[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, misses.length) }, worker));
    return results;
  }
}

/** A regular file found by a walk, a scan or a glob, with what its hash and manifest line need. */
export interface FoundFile {
  absPath: string;
  /** Relative to the scanned folder, `/`-separated (folders only). */
  rel?: string;
  statKey: string;
  size: number;
  /** Permission bits. */
  mode: number;
}

function foundFile(absPath: string, rel: string | undefined, stats: Stats): FoundFile {
  return { absPath, rel, statKey: statKeyOf(stats), size: Number(stats.size), mode: Number(stats.mode) & 0o777 };
}

/**
 * What a folder holds right now, as one digest over every regular file's relative path, stat key and mode and every
 * subfolder's path (equal digests: no file or folder was added, removed, renamed, re-pointed, edited or chmod-ed), plus
 * the file list itself, built only when asked for (a changed folder): an unchanged folder allocates nothing per file.
 */
export interface FolderScan {
  digest: string;
  files(): FoundFile[];
}

/** Scan with GNU find when it is there (one child process does the stats, none of them in JS), else with a walk in JS. */
export function scanFolder(absFolder: string): FolderScan {
  return (gnuFind !== false && scanWithFind(absFolder)) || scanWithWalk(absFolder);
}

/** Unknown until the first scan; false once find turned out missing or not GNU's, for the rest of the process. */
let gnuFind: boolean | undefined = process.platform === 'win32' ? false : undefined;

/**
 * Run in the folder. One NUL-terminated record per subfolder, `d` + its path, and per regular file, `f` + its path
 * then `dev ino size mtime mode`, with mtime as seconds and a 10-digit fraction (nanoseconds) and mode in octal. Paths
 * are relative to the folder. `-L` follows symlinks as the walk does: a re-pointed link changes the target's
 * device/inode; a dangling one is neither. From inside the folder because with -L find stats each file by the path it
 * was given, and `./name` resolves much faster than an absolute path (on 25,000 files, 0.11 s instead of 0.15 s).
 */
const FIND_ARGS = [
  '-L',
  '.',
  '-mindepth',
  '1',
  '(',
  '-type',
  'd',
  '-printf',
  'd%P\\0',
  '-o',
  '-type',
  'f',
  '-printf',
  'f%P\\0%D %i %s %T@ %m\\0',
  ')',
];
const FIND_COMMAND = ['find', ...FIND_ARGS];
const FIND_STAT = /^(\d+) (\d+) (\d+) (\d+)\.(\d{9})\d* ([0-7]+)$/;
/** LC_ALL=C: no locale to load, nothing localised. */
const findEnv = () => ({ ...process.env, LC_ALL: 'C' });

export function scanWithFind(absFolder: string): FolderScan | undefined {
  const found = spawnSync(FIND_COMMAND[0], FIND_ARGS, {
    cwd: absFolder,
    env: findEnv(),
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: Number.MAX_SAFE_INTEGER,
  });
  if (found.error || found.status !== 0) {
    // ENOENT is also what a folder gone since its stat gives: only a folder still there says find is missing.
    if (
      found.error &&
      'code' in found.error &&
      found.error.code === 'ENOENT' &&
      statSync(absFolder, { throwIfNoEntry: false })?.isDirectory()
    )
      gnuFind = false;
    return undefined; // unreadable or vanished files, a symlink loop…: the walk reports what it can
  }
  // A find that does not know these directives prints something else: check the first file's record before trusting the digest.
  const scan = findScanOf(absFolder, found.stdout);
  gnuFind = scan !== undefined;
  return scan;
}

/**
 * scanWithFind as a child process the caller does not wait for (folder-prefetch.ts); undefined where the sync scan
 * must decide. find writes to an unlinked temp file, not a pipe: a pipe fills while this process is busy loading and
 * stalls find (measured: the scan then ended no earlier than the synchronous one).
 */
export function scanWithFindAsync(absFolder: string): Promise<FolderScan | undefined> {
  if (gnuFind === false) return Promise.resolve(undefined);
  let fd: number;
  try {
    const file = join(tmpdir(), `pipeline-scan-${process.pid}-${randomBytes(6).toString('hex')}`);
    fd = openSync(file, 'wx+', 0o600);
    unlinkSync(file);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    let open = true;
    const done = (scan: FolderScan | undefined) => {
      if (!open) return; // a failed spawn may report both 'error' and 'close'
      open = false;
      closeSync(fd);
      resolve(scan);
    };
    const find = spawn(FIND_COMMAND[0], FIND_ARGS, { cwd: absFolder, env: findEnv(), stdio: ['ignore', fd, 'ignore'] });
    find.on('error', () => done(undefined));
    find.on('close', (code) => {
      if (code !== 0) return done(undefined);
      const output = Buffer.allocUnsafe(fstatSync(fd).size);
      let read = 0;
      while (read < output.length) {
        const n = readSync(fd, output, read, output.length - read, read);
        if (n === 0) break;
        read += n;
      }
      done(read === output.length ? findScanOf(absFolder, output) : undefined);
    });
  });
}

/** The scan that find's output (FIND_ARGS, run in the folder) describes; undefined if it is not in that format. */
function findScanOf(absFolder: string, output: Buffer): FolderScan | undefined {
  if (!firstFileRecordValid(output)) return undefined;
  let parsed: { files: FoundFile[]; dirs: string[] } | undefined;
  const parse = () => (parsed ??= parseFindOutput(absFolder, output));
  return {
    digest: createHash('sha256').update('find\0').update(output).digest('hex'),
    files: () => parse().files,
  };
}

function firstFileRecordValid(output: Buffer): boolean {
  let at = 0;
  while (at < output.length) {
    const end = output.indexOf(0, at);
    if (end < 0) return false;
    if (output[at] === 0x64 /* d */) {
      at = end + 1;
      continue;
    }
    const statEnd = output.indexOf(0, end + 1);
    return output[at] === 0x66 /* f */ && statEnd > 0 && FIND_STAT.test(output.toString('latin1', end + 1, statEnd));
  }
  return true; // no file at all
}

function parseFindOutput(absFolder: string, output: Buffer): { files: FoundFile[]; dirs: string[] } {
  const fields = output.toString('utf8').split('\0');
  const files: FoundFile[] = [];
  const dirs: string[] = [];
  for (let i = 0; i < fields.length - 1; i++) {
    const rel = fields[i].slice(1);
    if (fields[i][0] === 'd') {
      dirs.push(rel);
      continue;
    }
    const absPath = `${absFolder}${sep}${rel}`;
    const stat = FIND_STAT.exec(fields[++i]);
    if (stat && !rel.includes('\uFFFD')) {
      const [, dev, ino, size, seconds, nanoseconds, mode] = stat;
      // Node's mtimeMs is computed exactly so (lib/internal/fs/utils.js), so the key equals statKeyOf(statSync(file)).
      const mtimeMs = Number(seconds) * 1000 + Number(nanoseconds) / 1e6;
      files.push({
        absPath,
        rel,
        statKey: `${Number(dev)}:${Number(ino)}:${Number(size)}:${mtimeMs}`,
        size: Number(size),
        mode: parseInt(mode, 8) & 0o777,
      });
      continue;
    }
    // A time before 1970, a name that is not UTF-8 (as the walk, skipped unless it resolves): ask the file itself.
    try {
      const stats = statSync(absPath);
      if (stats.isFile()) files.push(foundFile(absPath, rel, stats));
    } catch {
      // Gone since the scan.
    }
  }
  return { files, dirs };
}

/** The scan without GNU find: a walk with a stat per file, digested the same way (with its own stat keys). */
export function scanWithWalk(absFolder: string): FolderScan {
  const { files, dirs } = walkFiles(absFolder);
  const digest = createHash('sha256').update('walk\0');
  for (const dir of dirs) digest.update(`d${dir}\0`);
  for (const file of files) digest.update(`f${file.rel}\0${file.statKey} ${file.mode}\0`);
  return { digest: digest.digest('hex'), files: () => files };
}

/**
 * Every regular file under a folder (following symlinks), with its stat and its path relative to the folder, and every
 * subfolder's relative path. Synchronous, and paths built by concatenation: on a 25,000-file folder a metadata walk is
 * faster without promises or path.join's normalisation.
 */
function walkFiles(absFolder: string): { files: FoundFile[]; dirs: string[] } {
  const files: FoundFile[] = [];
  const dirs: string[] = [];
  const pending: [abs: string, rel: string][] = [[absFolder, '']];
  while (pending.length > 0) {
    const [folder, relFolder] = pending.pop()!;
    if (relFolder !== '') dirs.push(relFolder);
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const absPath = `${folder}${sep}${entry.name}`;
      const rel = relFolder === '' ? entry.name : `${relFolder}/${entry.name}`;
      if (entry.isDirectory()) {
        pending.push([absPath, rel]);
        continue;
      }
      let stats: Stats;
      try {
        stats = statSync(absPath);
      } catch {
        continue; // dangling symlink or file removed mid-walk
      }
      if (stats.isFile()) files.push(foundFile(absPath, rel, stats));
      else if (stats.isDirectory()) pending.push([absPath, rel]);
    }
  }
  return { files, dirs };
}

/** A folder's identity from its files: the hash of the sorted (relative path, file hash) lines. Sorts `manifest` in place. */
export function hashedManifest(manifest: ManifestEntry[]): HashedPath & { kind: 'dir' } {
  manifest.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let size = 0;
  const lines: string[] = [];
  for (const entry of manifest) {
    size += entry.size;
    lines.push(`${entry.path}\t${entry.hash}\n`);
  }
  return { kind: 'dir', hash: sha256(lines.join('')), size, files: manifest.length, manifest };
}

export function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}
