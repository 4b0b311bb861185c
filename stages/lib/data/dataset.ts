/**
 * Listing the images of a dataset folder, with labels taken from the layout:
 *  - the Kaggle flat layout: `cat.123.jpg`, `dog.45.jpg` in one folder;
 *  - class sub-folders: `cat/…`, `dog/…` (also `cats/`, `dogs/`, any case).
 * Label 1 = dog, 0 = cat, as in the Kaggle submission.
 * Lists are sorted deterministically (by label, then natural order of the id)
 * so a seeded split does not depend on the order the file system returns.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { StageUserError } from '../../../src/contract.ts';
import { readCsv, writeCsv } from './csv.ts';

export type Label = 0 | 1;

export interface LabelledImage {
  /** Absolute path (a relative `dir` is resolved against the process cwd). */
  path: string;
  label: Label;
  /** Flat layout: the file name without extension (`cat.123`); sub-folders: `folder/stem` (`cats/123`). */
  id: string;
}

export interface UnlabelledImage {
  /** Absolute path. */
  path: string;
  /** The file name without extension: `12.jpg` → `12`. */
  id: string;
}

/** A dataset the stage cannot use (missing folder, no images, bad labels): the user's to fix, shown as one line. */
export class DatasetError extends StageUserError {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** Extensions taken as images when listing; decoding itself goes by content, not extension. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.gif', '.webp', '.bmp', '.tif', '.tiff', '.avif']);
const CLASS_FOLDERS: Record<string, Label> = { cat: 0, cats: 0, dog: 1, dogs: 1 };
const FLAT_NAME = /^(cat|dog)\.(.+)$/i;

export const LABEL_NAMES: Record<Label, string> = { 0: 'cat', 1: 'dog' };

export function isImageFile(name: string): boolean {
  return !name.startsWith('.') && IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

function stem(name: string): string {
  return name.slice(0, name.length - path.extname(name).length);
}

/** Natural order: `cat.2` before `cat.10`; ties broken by plain code-unit order so the order is total. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const xd = /^\d/.test(x);
    const yd = /^\d/.test(y);
    if (xd && yd) {
      const diff = Number(x) - Number(y);
      if (diff !== 0) return diff;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Entry {
  name: string;
  full: string;
  isFile: boolean;
  isDirectory: boolean;
}

/** Folder entries with symlinks followed (test subsets are folders of links). */
async function entries(dir: string): Promise<Entry[]> {
  let dirents;
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DatasetError(`dataset folder not found: ${dir}`);
    if (code === 'ENOTDIR') throw new DatasetError(`dataset path is not a folder: ${dir}`);
    throw err;
  }
  const out: Entry[] = [];
  for (const d of dirents) {
    const full = path.join(dir, d.name);
    if (d.isSymbolicLink()) {
      const s = await stat(full).catch(() => undefined); // a dangling link is not an image
      if (s) out.push({ name: d.name, full, isFile: s.isFile(), isDirectory: s.isDirectory() });
    } else {
      out.push({ name: d.name, full, isFile: d.isFile(), isDirectory: d.isDirectory() });
    }
  }
  return out;
}

function sortLabelled(items: LabelledImage[]): LabelledImage[] {
  return items.sort((a, b) => a.label - b.label || naturalCompare(a.id, b.id));
}

/** Every labelled image of `dir`, flat Kaggle layout and/or class sub-folders. */
export async function listLabelledImages(dir: string): Promise<LabelledImage[]> {
  dir = path.resolve(dir);
  const top = await entries(dir);
  const items: LabelledImage[] = [];
  let unlabelledFiles = 0;
  for (const e of top) {
    if (e.isFile && isImageFile(e.name)) {
      const m = FLAT_NAME.exec(stem(e.name));
      if (m) items.push({ path: e.full, label: m[1].toLowerCase() === 'dog' ? 1 : 0, id: stem(e.name) });
      else unlabelledFiles++;
    }
  }
  const classDirs = top.filter((e) => e.isDirectory && CLASS_FOLDERS[e.name.toLowerCase()] !== undefined);
  for (const d of classDirs) {
    const label = CLASS_FOLDERS[d.name.toLowerCase()];
    for (const e of await entries(d.full)) {
      if (e.isFile && isImageFile(e.name)) items.push({ path: e.full, label, id: `${d.name}/${stem(e.name)}` });
    }
  }
  if (items.length === 0) {
    const dirs = top.filter((e) => e.isDirectory).map((e) => e.name + '/');
    const seen =
      unlabelledFiles > 0
        ? `${unlabelledFiles} image file(s) whose names do not start with "cat." or "dog."`
        : dirs.length > 0
          ? `sub-folders ${dirs.slice(0, 5).join(', ')}${dirs.length > 5 ? ', …' : ''} but none named cat/, cats/, dog/ or dogs/`
          : 'no image files';
    throw new DatasetError(
      `no labelled images in ${dir}: found ${seen}. Expected the Kaggle layout (cat.1.jpg, dog.1.jpg, …) or class sub-folders cat/ and dog/ (or cats/, dogs/).`,
    );
  }
  return sortLabelled(items);
}

/** Every image of `dir` (no labels), sorted by numeric id when ids are numbers (`2` before `10`). */
export async function listUnlabelledImages(dir: string): Promise<UnlabelledImage[]> {
  dir = path.resolve(dir);
  const items = (await entries(dir))
    .filter((e) => e.isFile && isImageFile(e.name))
    .map((e) => ({ path: e.full, id: stem(e.name) }));
  if (items.length === 0) throw new DatasetError(`no image files in ${dir} (looked for ${[...IMAGE_EXTENSIONS].join(' ')})`);
  const seen = new Map<string, string>();
  for (const it of items) {
    const other = seen.get(it.id);
    if (other) throw new DatasetError(`two images share the id "${it.id}": ${other} and ${it.path}`);
    seen.set(it.id, it.path);
  }
  return items.sort((a, b) => naturalCompare(a.id, b.id));
}

/** Parse a label cell: 0/1 (also `0.0`, `1.0`), or the words cat/dog. */
export function parseLabel(text: string): Label | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'cat') return 0;
  if (t === 'dog') return 1;
  if (t === '') return undefined;
  const n = Number(t);
  return n === 0 ? 0 : n === 1 ? 1 : undefined;
}

/** Labels from an `id,label` CSV (Kaggle style, 1 = dog). */
export async function readLabels(csvPath: string): Promise<Map<string, Label>> {
  const { records } = await readCsv(csvPath, ['id', 'label']);
  const labels = new Map<string, Label>();
  records.forEach((r, k) => {
    const id = r['id'].trim();
    const label = parseLabel(r['label']);
    if (label === undefined) {
      throw new DatasetError(`${csvPath}: data row ${k + 1} (id ${id}): label must be 0 (cat) or 1 (dog), got ${JSON.stringify(r['label'])}`);
    }
    if (labels.has(id)) throw new DatasetError(`${csvPath}: id ${id} appears twice`);
    labels.set(id, label);
  });
  return labels;
}

/**
 * Split lists (`path,label`). Paths are stored relative to the project root
 * with `/` separators (so artifacts stay valid when the project moves and are
 * identical across machines), and resolved against the root when read.
 */
export async function writeImageList(csvPath: string, root: string, items: readonly LabelledImage[]): Promise<void> {
  const rows = items.map((it) => [path.relative(root, path.resolve(root, it.path)).split(path.sep).join('/'), it.label]);
  await writeCsv(csvPath, ['path', 'label'], rows);
}

/** Read a `path,label` list written by `writeImageList`; paths come back absolute, ids as in `listLabelledImages`. */
export async function readImageList(csvPath: string, root: string): Promise<LabelledImage[]> {
  const { records } = await readCsv(csvPath, ['path', 'label']);
  return records.map((r, k) => {
    const label = parseLabel(r['label']);
    if (label === undefined) {
      throw new DatasetError(`${csvPath}: data row ${k + 1}: label must be 0 or 1, got ${JSON.stringify(r['label'])}`);
    }
    const rel = r['path'];
    if (rel === '') throw new DatasetError(`${csvPath}: data row ${k + 1}: empty path`);
    const abs = path.resolve(root, rel);
    const parent = path.basename(path.dirname(abs));
    const id = CLASS_FOLDERS[parent.toLowerCase()] !== undefined ? `${parent}/${stem(path.basename(abs))}` : stem(path.basename(abs));
    return { path: abs, label, id };
  });
}
