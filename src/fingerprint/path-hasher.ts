import { readdirSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { hashFileContent, sha256 } from './content-hash.ts';
import { StateStore, statKeyOf } from './state-store.ts';

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
 * unchanged tree costs one directory walk plus one stat per file.
 */
export class PathHasher {
  constructor(private readonly store: StateStore) {}

  async hashPath(absPath: string): Promise<HashedPath> {
    let stats: Stats;
    try {
      stats = statSync(absPath);
    } catch {
      this.store.forget(absPath);
      return { kind: 'missing' };
    }
    if (stats.isDirectory()) return this.hashFolder(absPath);
    const [hash] = await this.hashFiles([{ absPath, stats }]);
    return { kind: 'file', hash, size: Number(stats.size), mode: Number(stats.mode) & 0o777 };
  }

  /** A folder hashes as the sorted manifest of (relative path, file hash). */
  async hashFolder(absFolder: string): Promise<HashedPath> {
    const found = walkFiles(absFolder);
    return this.hashManifest(absFolder, found);
  }

  /** Hash an explicit file list (glob matches) as if they were one folder rooted at `base`. */
  async hashFileList(base: string, absFiles: string[]): Promise<HashedPath> {
    const found: FoundFile[] = [];
    for (const absPath of absFiles) {
      try {
        const stats = statSync(absPath);
        if (stats.isFile()) found.push({ absPath, stats });
      } catch {
        // Vanished between glob and stat: simply not part of the manifest.
      }
    }
    return this.hashManifest(base, found);
  }

  private async hashManifest(base: string, found: FoundFile[]): Promise<HashedPath> {
    const hashes = await this.hashFiles(found);
    const manifest: ManifestEntry[] = found.map((file, i) => ({
      path: file.rel ?? toPosix(relative(base, file.absPath)),
      hash: hashes[i],
      size: Number(file.stats.size),
      mode: Number(file.stats.mode) & 0o777,
    }));
    return hashedManifest(manifest);
  }

  /** Hash many files: cached ones answer at once, the rest are read with bounded concurrency. */
  private async hashFiles(files: FoundFile[]): Promise<string[]> {
    const results = new Array<string>(files.length);
    const misses: number[] = [];
    for (let i = 0; i < files.length; i++) {
      const key = statKeyOf(files[i].stats);
      const cached = this.store.lookup(files[i].absPath, key);
      if (cached) results[i] = cached;
      else misses.push(i);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < misses.length) {
        const i = misses[next++];
        const { absPath, stats } = files[i];
        results[i] = await hashFileContent(absPath, Number(stats.size));
        this.store.remember(absPath, statKeyOf(stats), results[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, misses.length) }, worker));
    return results;
  }
}

interface FoundFile {
  absPath: string;
  /** Relative to the folder or glob base, `/`-separated; computed from absPath when absent. */
  rel?: string;
  stats: Stats;
}

/**
 * Every regular file under a folder (following symlinks), with its stat and its path relative to the folder.
 * Synchronous, and paths built by concatenation: on a 25,000-file folder a metadata walk is faster without
 * promises or path.join's normalisation.
 */
function walkFiles(absFolder: string): FoundFile[] {
  const found: FoundFile[] = [];
  const pending: [abs: string, rel: string][] = [[absFolder, '']];
  while (pending.length > 0) {
    const [folder, relFolder] = pending.pop()!;
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
      if (stats.isFile()) found.push({ absPath, rel, stats });
      else if (stats.isDirectory()) pending.push([absPath, rel]);
    }
  }
  return found;
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
