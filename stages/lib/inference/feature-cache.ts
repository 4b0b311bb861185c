/**
 * The feature store: pooled backbone features kept per image variant, keyed by
 * content (see `featureKey`), so an interrupted stage, a new split, added
 * photos or more augmented copies reuse every pass already made.
 *
 * Layout: `<dir>/v1/<segment>.seg`, one file per committed batch:
 *   [entries × dim float32 LE][index JSON][u32 LE index length]["PFSEG001"]
 * The index lists each entry's key and the sha256 of its bytes. A segment is
 * written to a temp name and renamed, so it is either whole or absent; a file
 * cut short (a disk full, a power loss before the page cache reached the disk)
 * has no readable footer and an entry whose bytes changed fails its checksum:
 * both are named in a warning and recomputed, never used. No fsync: a killed
 * process loses nothing the page cache holds, and the checksums cover the rest.
 *
 * Later segments win when a key appears twice (a recomputed damaged entry).
 * Reading an entry marks its segment used (mtime), which `pipeline gc` ages by.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

const FORMAT = 'v1';
const MAGIC = Buffer.from('PFSEG001', 'latin1');
const FOOTER_BYTES = 4 + MAGIC.length;
/** Segment files kept open at once while reading entries (they are read in any order after a re-split). */
const OPEN_FILES = 64;

/** Everything that determines one row's numbers; two identical descriptions are the same entry. */
export interface FeatureKeyParts {
  /** sha256 of the image file's bytes. */
  image: string;
  /** Identity of the frozen base and what runs it (export hash, engine). */
  model: string;
  /** Input side, preprocessing, decoder: how the file becomes the input tensor. */
  input: Record<string, unknown>;
  /** Which variant of the image: original, a numbered augmented draw with its params and seed, the flip. */
  variant: Record<string, unknown>;
}

export function featureKey(parts: FeatureKeyParts): string {
  return sha256(JSON.stringify([FORMAT, parts.image, parts.model, sortedJson(parts.input), sortedJson(parts.variant)]));
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function sortedJson(value: Record<string, unknown>): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

interface SegmentIndex {
  dim: number;
  /** [key, sha256 of the entry's bytes] in storage order. */
  entries: [string, string][];
}

interface Location {
  file: string;
  offset: number;
  bytes: number;
  sha: string;
}

/** A problem found in the store: the caller warns with it (the entries concerned are recomputed). */
export type StoreWarning = (message: string) => void;

export class FeatureCache {
  private readonly index = new Map<string, Location>();
  private readonly openFiles = new Map<string, number>();
  private readonly used = new Set<string>();
  private pending: { key: string; values: Float32Array }[] = [];
  private sequence = 0;
  /** Segments installed from elsewhere (the remote cache), by the sha256 of their bytes. */
  private readonly installed = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly dim: number,
    private readonly warn: StoreWarning,
  ) {}

  /** Opens (creating) the store at `dir` for rows of `dim` floats; damaged segments are warned about and removed. */
  static open(dir: string, dim: number, warn: StoreWarning): FeatureCache {
    const store = new FeatureCache(path.join(dir, FORMAT), dim, warn);
    mkdirSync(store.dir, { recursive: true });
    store.load();
    return store;
  }

  get size(): number {
    return this.index.size;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  private load(): void {
    const names = readdirSync(this.dir).sort();
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (name.includes('.tmp-')) {
        // Left by a process killed while writing; a live writer's temp file carries its own pid.
        const pid = Number(name.slice(name.lastIndexOf('-') + 1));
        if (!isAlive(pid)) rmSync(file, { force: true });
        continue;
      }
      if (!name.endsWith('.seg')) continue;
      const found = this.readIndex(file);
      if (typeof found === 'string') {
        this.warn(`feature store: ${file} is damaged (${found}); removed, its entries will be recomputed`);
        rmSync(file, { force: true });
        continue;
      }
      const bytes = found.dim * 4;
      if (found.dim !== this.dim) continue; // another backbone's rows: their keys differ anyway
      found.entries.forEach(([key, sha], i) => this.index.set(key, { file, offset: i * bytes, bytes, sha }));
    }
  }

  /** The segment's index, or why it cannot be used. */
  private readIndex(file: string): SegmentIndex | string {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < FOOTER_BYTES) return `${size} bytes, shorter than a footer: truncated`;
      const footer = Buffer.alloc(FOOTER_BYTES);
      readSync(fd, footer, 0, FOOTER_BYTES, size - FOOTER_BYTES);
      if (!footer.subarray(4).equals(MAGIC)) return 'no segment footer at its end: truncated or overwritten';
      const indexBytes = footer.readUInt32LE(0);
      if (indexBytes > size - FOOTER_BYTES) return 'its footer points before the start of the file';
      const json = Buffer.alloc(indexBytes);
      readSync(fd, json, 0, indexBytes, size - FOOTER_BYTES - indexBytes);
      let index: SegmentIndex;
      try {
        index = JSON.parse(json.toString('utf8')) as SegmentIndex;
      } catch {
        return 'its index is not readable';
      }
      if (!Number.isInteger(index.dim) || !Array.isArray(index.entries)) return 'its index is not a segment index';
      const expected = index.entries.length * index.dim * 4 + indexBytes + FOOTER_BYTES;
      if (expected !== size) return `${size} bytes where its index needs ${expected}`;
      return index;
    } finally {
      closeSync(fd);
    }
  }

  /** The entry's values if present and intact; a failed checksum is warned about (naming `what`) and the entry forgotten. */
  read(key: string, what: string): Float32Array | undefined {
    const at = this.index.get(key);
    if (!at) return undefined;
    const buffer = Buffer.alloc(at.bytes);
    const got = readSync(this.fd(at.file), buffer, 0, at.bytes, at.offset);
    if (got !== at.bytes || sha256(buffer) !== at.sha) {
      this.warn(`feature store: the entry for ${what} in ${at.file} fails its checksum; recomputing it`);
      this.index.delete(key);
      return undefined;
    }
    this.used.add(at.file);
    return new Float32Array(buffer.buffer, buffer.byteOffset, this.dim);
  }

  private fd(file: string): number {
    const known = this.openFiles.get(file);
    if (known !== undefined) {
      this.openFiles.delete(file); // re-inserted below: Map order is the LRU order
      this.openFiles.set(file, known);
      return known;
    }
    if (this.openFiles.size >= OPEN_FILES) {
      const [oldest, fd] = this.openFiles.entries().next().value as [string, number];
      closeSync(fd);
      this.openFiles.delete(oldest);
    }
    const fd = openSync(file, 'r');
    this.openFiles.set(file, fd);
    return fd;
  }

  /** Queues one computed row; `commit` makes the queued rows durable. */
  add(key: string, values: Float32Array): void {
    if (values.length !== this.dim) throw new Error(`feature store: ${values.length} values for a row of ${this.dim}`);
    this.pending.push({ key, values });
  }

  /** Writes the queued rows as one segment (temp file + rename). */
  commit(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    // Time first so names sort oldest → newest (later segments win); pid and a counter make them unique.
    const name = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${String(this.sequence++).padStart(6, '0')}.seg`;
    this.writeSegment(name, encodeSegment(this.dim, rows));
  }

  private writeSegment(name: string, segment: Buffer): void {
    const file = path.join(this.dir, name);
    const temp = `${file}.tmp-${process.pid}`;
    writeFileSync(temp, segment);
    renameSync(temp, file);
    const index = this.readIndex(file) as SegmentIndex;
    const bytes = this.dim * 4;
    index.entries.forEach(([key, sha], i) => this.index.set(key, { file, offset: i * bytes, bytes, sha }));
  }

  /** The rows of `keys` (present and intact ones; `what` names a key in warnings) as one segment's bytes, for moving elsewhere. */
  pack(keys: readonly string[], what: (key: string) => string): { segment: Buffer; keys: string[] } {
    const rows: { key: string; values: Float32Array }[] = [];
    for (const key of keys) {
      const values = this.read(key, what(key));
      if (values) rows.push({ key, values });
    }
    return { segment: encodeSegment(this.dim, rows), keys: rows.map((r) => r.key) };
  }

  /**
   * Adds a segment made elsewhere (by `pack`, fetched from the remote cache)
   * whose bytes hash to `sha` (checked by the caller). Its entries are
   * checksummed on every read like any other; entries already here stay.
   * False, with a warning, when it is not a segment of this store's rows.
   */
  install(segment: Buffer, sha: string, from: string): boolean {
    if (this.installed.has(sha)) return true;
    // Oldest-sorting name: a key already in a local segment keeps that entry.
    const name = `${'0'.repeat(15)}-remote-${sha.slice(0, 32)}.seg`;
    const file = path.join(this.dir, name);
    const temp = `${file}.tmp-${process.pid}`;
    writeFileSync(temp, segment);
    const found = this.readIndex(temp);
    if (typeof found === 'string' || found.dim !== this.dim) {
      rmSync(temp, { force: true });
      this.warn(
        `feature store: a segment from ${from} is not usable (${typeof found === 'string' ? found : `rows of ${found.dim}, not ${this.dim}`}); discarded, its entries will be computed`,
      );
      return false;
    }
    renameSync(temp, file);
    const bytes = this.dim * 4;
    found.entries.forEach(([key, entrySha], i) => {
      if (!this.index.has(key)) this.index.set(key, { file, offset: i * bytes, bytes, sha: entrySha });
    });
    this.installed.add(sha);
    return true;
  }

  /** Commits what is queued, marks the segments read from as used now, closes files. */
  close(): void {
    this.commit();
    const now = new Date();
    for (const file of this.used) {
      try {
        utimesSync(file, now, now);
      } catch {
        /* removed meanwhile (gc): nothing to mark */
      }
    }
    for (const fd of this.openFiles.values()) closeSync(fd);
    this.openFiles.clear();
  }
}

/** `[rows × dim float32 LE][index JSON][u32 LE index length]["PFSEG001"]`. */
function encodeSegment(dim: number, rows: readonly { key: string; values: Float32Array }[]): Buffer {
  const data = Buffer.alloc(rows.length * dim * 4);
  const entries: [string, string][] = rows.map(({ key, values }, i) => {
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    bytes.copy(data, i * dim * 4);
    return [key, sha256(bytes)];
  });
  const json = Buffer.from(JSON.stringify({ dim, entries } satisfies SegmentIndex), 'utf8');
  const footer = Buffer.alloc(FOOTER_BYTES);
  footer.writeUInt32LE(json.length, 0);
  MAGIC.copy(footer, 4);
  return Buffer.concat([data, json, footer]);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
