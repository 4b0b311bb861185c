import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Stats } from 'node:fs';
import { writeFileAtomicSync } from '../atomic-write.ts';
import { sha256 } from './content-hash.ts';

/**
 * Remembers file hashes keyed by (device, inode, size, mtime), so an unchanged
 * file is never read twice, and whole folders keyed by their scan (every file's
 * path, stat and mode, see path-hasher.ts), so an unchanged folder is answered
 * without looking at its files one by one.
 *
 * `.pipeline/state.json` holds the files hashed one by one and one line per
 * folder (scan digest → folder hash, size, file count): small, read on every
 * call. The hashes of the files inside a folder sit in a file of their own
 * under `.pipeline/state-folders/`, read only when the folder changed (to
 * re-read just the changed files) or when its manifest is asked for: a no-op
 * run on a 25,000-file folder never parses them.
 */
const FORMAT_VERSION = 3;

interface StoredState {
  version: number;
  entries: [path: string, statKey: string, hash: string][];
  folders: [absFolder: string, scan: string, hash: string, size: number, files: number][];
}

/** One file of a folder as last hashed: path relative to the folder (`/`-separated), stat key, hash, size, permission bits. */
export type FolderFile = [rel: string, statKey: string, hash: string, size: number, mode: number];

interface StoredFolderFiles {
  version: number;
  folder: string;
  /** The scan these files come from: they describe the folder exactly when it equals the folder's record. */
  scan: string;
  files: FolderFile[];
}

/** What a folder hashed to, valid while a new scan of it gives the same digest. */
export interface FolderRecord {
  scan: string;
  hash: string;
  size: number;
  files: number;
}

/**
 * mtimeMs is a double: sub-microsecond resolution for today's dates, enough beside the size and inode.
 * Plain (not bigint) stats: on a 25,000-file walk they allocate several times less.
 */
export function statKeyOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

export class StateStore {
  private readonly entries = new Map<string, { statKey: string; hash: string }>();
  private readonly folders = new Map<string, FolderRecord>();
  /** Folder files to write at the next save (absolute folder → its files, scan). */
  private readonly pendingFolderFiles = new Map<string, StoredFolderFiles>();
  private dirty = false;

  private constructor(private readonly file: string) {}

  /** Loads the store; a missing or unreadable file starts empty (it is only a cache). */
  static load(file: string): StateStore {
    const store = new StateStore(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return store;
    }
    try {
      const parsed = JSON.parse(text) as StoredState;
      if (parsed?.version !== FORMAT_VERSION) return store;
      for (const entry of Array.isArray(parsed.entries) ? parsed.entries : []) {
        if (!Array.isArray(entry)) continue;
        const [path, statKey, hash] = entry;
        if (typeof path === 'string' && typeof statKey === 'string' && typeof hash === 'string')
          store.entries.set(path, { statKey, hash });
      }
      for (const folder of Array.isArray(parsed.folders) ? parsed.folders : []) {
        if (!Array.isArray(folder)) continue;
        const [absFolder, scan, hash, size, files] = folder;
        if (
          typeof absFolder === 'string' &&
          typeof scan === 'string' &&
          typeof hash === 'string' &&
          Number.isFinite(size) &&
          Number.isInteger(files)
        ) {
          store.folders.set(absFolder, { scan, hash, size, files });
        }
      }
    } catch {
      // A torn or foreign file: start over, hashes get recomputed.
    }
    return store;
  }

  /** The cached hash if the file still has the same identity and mtime. */
  lookup(absPath: string, statKey: string): string | undefined {
    const entry = this.entries.get(absPath);
    return entry && entry.statKey === statKey ? entry.hash : undefined;
  }

  remember(absPath: string, statKey: string, hash: string): void {
    const entry = this.entries.get(absPath);
    if (entry && entry.statKey === statKey && entry.hash === hash) return;
    this.entries.set(absPath, { statKey, hash });
    this.dirty = true;
  }

  /** Drop a path seen missing (a file or a folder), so the store does not grow with deleted files forever. */
  forget(absPath: string): void {
    if (this.entries.delete(absPath)) this.dirty = true;
    if (this.folders.delete(absPath)) {
      this.pendingFolderFiles.delete(absPath);
      this.dirty = true;
    }
  }

  /** Every folder recorded, with what it hashed to. */
  recordedFolders(): [absFolder: string, record: FolderRecord][] {
    return [...this.folders];
  }

  /** The folder's record if its scan is still `scan`. */
  folder(absFolder: string, scan: string): FolderRecord | undefined {
    const record = this.folders.get(absFolder);
    return record && record.scan === scan ? record : undefined;
  }

  /**
   * The files of the folder as last hashed, whatever the scan they came from (each entry still
   * carries its stat key); undefined when none are kept. Reads the folder's file on first use.
   */
  folderFiles(absFolder: string): { scan: string; files: FolderFile[] } | undefined {
    const pending = this.pendingFolderFiles.get(absFolder);
    if (pending) return pending;
    let parsed: StoredFolderFiles;
    try {
      parsed = JSON.parse(readFileSync(this.folderFilesPath(absFolder), 'utf8')) as StoredFolderFiles;
    } catch {
      return undefined;
    }
    if (
      parsed?.version !== FORMAT_VERSION ||
      parsed.folder !== absFolder ||
      typeof parsed.scan !== 'string' ||
      !Array.isArray(parsed.files)
    )
      return undefined;
    const files = parsed.files.filter(
      (f) =>
        Array.isArray(f) &&
        typeof f[0] === 'string' &&
        typeof f[1] === 'string' &&
        typeof f[2] === 'string' &&
        Number.isFinite(f[3]) &&
        Number.isInteger(f[4]),
    );
    return { scan: parsed.scan, files };
  }

  /** Record what a folder with scan `scan` hashed to, and its files (kept apart, read only when needed). */
  rememberFolder(absFolder: string, record: FolderRecord, files: FolderFile[]): void {
    const known = this.folders.get(absFolder);
    if (
      known &&
      known.scan === record.scan &&
      known.hash === record.hash &&
      known.size === record.size &&
      known.files === record.files
    )
      return;
    this.folders.set(absFolder, record);
    this.pendingFolderFiles.set(absFolder, { version: FORMAT_VERSION, folder: absFolder, scan: record.scan, files });
    this.dirty = true;
  }

  /** Cached file hashes: files hashed one by one plus the files of every recorded folder. */
  get size(): number {
    let size = this.entries.size;
    for (const record of this.folders.values()) size += record.files;
    return size;
  }

  /** Writes the store atomically, only when something changed: folder files first, then the state that points at them. */
  save(): void {
    if (!this.dirty) return;
    const folderDir = this.folderFilesDir();
    if (this.pendingFolderFiles.size > 0) mkdirSync(folderDir, { recursive: true });
    for (const [absFolder, stored] of this.pendingFolderFiles)
      writeFileAtomicSync(this.folderFilesPath(absFolder), JSON.stringify(stored));
    this.pendingFolderFiles.clear();
    // Files of folders no longer recorded (deleted folders, or a lost state.json) go.
    const kept = new Set([...this.folders.keys()].map((absFolder) => basename(this.folderFilesPath(absFolder))));
    let present: string[] = [];
    try {
      present = readdirSync(folderDir);
    } catch {
      // No folder files yet.
    }
    for (const name of present)
      if (!kept.has(name) && !name.includes('.tmp-')) rmSync(join(folderDir, name), { force: true });

    const entries: StoredState['entries'] = [];
    for (const [path, { statKey, hash }] of this.entries) entries.push([path, statKey, hash]);
    const folders: StoredState['folders'] = [];
    for (const [absFolder, { scan, hash, size, files }] of this.folders)
      folders.push([absFolder, scan, hash, size, files]);
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileAtomicSync(this.file, JSON.stringify({ version: FORMAT_VERSION, entries, folders }));
    this.dirty = false;
  }

  private folderFilesDir(): string {
    return join(dirname(this.file), 'state-folders');
  }

  private folderFilesPath(absFolder: string): string {
    return join(this.folderFilesDir(), `${sha256(absFolder).slice(0, 32)}.json`);
  }
}
