/**
 * Listing the images of a dataset folder, with classes and labels taken from
 * the layout, as Keras' `flow_from_directory` does:
 *  - class sub-folders, any names: `katze/…`, `hund/…` (one folder per class);
 *  - the Kaggle flat layout: `cat.123.jpg`, `dog.45.jpg` in one folder (the
 *    class is the name before the first dot).
 * The classes are sorted by name (code-unit order, as Python's `sorted`), or
 * given in `data.classes`; a label is a class's index in that list. With the
 * Kaggle data that is cat = 0, dog = 1, as in the Kaggle submission.
 * Lists are sorted deterministically (by label, then natural order of the id)
 * so a seeded split does not depend on the order the file system returns.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { StageUserError } from 'pipeline-ml-engine';
import { readCsv, writeCsv } from './csv.ts';

/** A class's index in the class list. */
export type Label = number;

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
const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.gif',
  '.webp',
  '.bmp',
  '.tif',
  '.tiff',
  '.avif',
]);
/** Flat layout: `<class>.<id>`, the class before the first dot. */
const FLAT_NAME = /^([^.]+)\.(.+)$/;

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

/** The classes and labelled images of a training folder. */
export interface LabelledDataset {
  /** Class names; label k is `classes[k]`. */
  classes: string[];
  images: LabelledImage[];
}

/**
 * The classes and every labelled image of `dir`: class sub-folders and/or the
 * flat `<class>.<id>.jpg` layout. `classes` (data.classes) fixes the list and
 * its order; without it the classes found are sorted by name.
 */
export async function readLabelledDataset(dir: string, classes?: readonly string[]): Promise<LabelledDataset> {
  dir = path.resolve(dir);
  const top = await entries(dir);
  const found: { name: string; full: string; className: string; id: string }[] = [];
  let unlabelledFiles = 0;
  for (const e of top) {
    if (e.isFile && isImageFile(e.name)) {
      const m = FLAT_NAME.exec(stem(e.name));
      if (m) found.push({ name: e.name, full: e.full, className: m[1], id: stem(e.name) });
      else unlabelledFiles++;
    }
  }
  const folders = top.filter((e) => e.isDirectory && !e.name.startsWith('.'));
  for (const d of folders) {
    // A sub-folder without images is not a class (Keras would count it as one with no images; that only fails later).
    for (const e of await entries(d.full)) {
      if (e.isFile && isImageFile(e.name))
        found.push({ name: e.name, full: e.full, className: d.name, id: `${d.name}/${stem(e.name)}` });
    }
  }
  if (found.length === 0) {
    const dirs = folders.map((e) => e.name + '/');
    const seen =
      unlabelledFiles > 0
        ? `${unlabelledFiles} image file(s) with no class before a dot in their names`
        : dirs.length > 0
          ? `sub-folders ${dirs.slice(0, 5).join(', ')}${dirs.length > 5 ? ', …' : ''} with no image files in them`
          : 'no image files';
    throw new DatasetError(
      `no labelled images in ${dir}: found ${seen}. Expected one sub-folder of images per class, any names (e.g. katze/ and hund/), ` +
        `or the Kaggle flat layout <class>.<id>.jpg (cat.1.jpg, dog.1.jpg, …).`,
    );
  }
  const present = [...new Set(found.map((f) => f.className))].sort();
  let list: string[];
  if (classes) {
    const outside = present.filter((c) => !classes.includes(c));
    if (outside.length > 0) {
      const where = (c: string) => (folders.some((d) => d.name === c) ? `sub-folder ${c}/` : `file prefix "${c}."`);
      throw new DatasetError(
        `${dir} holds images of ${outside.map(where).join(', ')}, not in data.classes (${classes.join(', ')}): add ${outside.length > 1 ? 'them' : 'it'} to data.classes, or move ${outside.length > 1 ? 'those images' : 'its images'} out of ${dir}`,
      );
    }
    list = [...classes];
  } else {
    list = present;
  }
  if (list.length < 2) {
    throw new DatasetError(
      `${dir} holds images of one class only (${list[0]}): a classifier needs two or more classes (one sub-folder of images each, or <class>.<id>.jpg names)`,
    );
  }
  const index = new Map(list.map((c, k) => [c, k]));
  const images = found.map((f) => ({ path: f.full, label: index.get(f.className)!, id: f.id }));
  return { classes: list, images: sortLabelled(images) };
}

/** Every labelled image of `dir`, with its classes sorted by name (see readLabelledDataset). */
export async function listLabelledImages(dir: string): Promise<LabelledImage[]> {
  return (await readLabelledDataset(dir)).images;
}

/** Every image of `dir` (no labels), sorted by numeric id when ids are numbers (`2` before `10`). */
export async function listUnlabelledImages(dir: string): Promise<UnlabelledImage[]> {
  dir = path.resolve(dir);
  const items = (await entries(dir))
    .filter((e) => e.isFile && isImageFile(e.name))
    .map((e) => ({ path: e.full, id: stem(e.name) }));
  if (items.length === 0)
    throw new DatasetError(`no image files in ${dir} (looked for ${[...IMAGE_EXTENSIONS].join(' ')})`);
  const seen = new Map<string, string>();
  for (const it of items) {
    const other = seen.get(it.id);
    if (other) throw new DatasetError(`two images share the id "${it.id}": ${other} and ${it.path}`);
    seen.set(it.id, it.path);
  }
  return items.sort((a, b) => naturalCompare(a.id, b.id));
}

/**
 * Parse a label cell against the class list: a class name (exactly, else in
 * any case when that is unambiguous), or an index 0…N−1 (also `1.0`). A name
 * wins over an index, so with classes named 1, 2, 3 the cell `1` is class 1.
 */
export function parseLabel(text: string, classes: readonly string[]): Label | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const exact = classes.indexOf(t);
  if (exact >= 0) return exact;
  const folded = classes.flatMap((c, k) => (c.toLowerCase() === t.toLowerCase() ? [k] : []));
  if (folded.length === 1) return folded[0];
  const n = Number(t);
  return Number.isInteger(n) && n >= 0 && n < classes.length ? n : undefined;
}

/** What a label cell may be, for errors: `a class name (cat, dog) or its index 0–1`. */
export function labelRule(classes: readonly string[]): string {
  const shown = classes.length > 8 ? `${classes.slice(0, 8).join(', ')}, …` : classes.join(', ');
  return `a class name (${shown}) or its index 0–${classes.length - 1}`;
}

/**
 * Labels from an `id,label` CSV (Kaggle style): class names or indices (with
 * the Kaggle classes, 1 = dog). A label outside the training set's classes is
 * an error naming its row.
 */
export async function readLabels(csvPath: string, classes: readonly string[]): Promise<Map<string, Label>> {
  const { records } = await readCsv(csvPath, ['id', 'label']);
  const labels = new Map<string, Label>();
  records.forEach((r, k) => {
    const id = r['id'].trim();
    const label = parseLabel(r['label'], classes);
    if (label === undefined) {
      const cell = r['label'].trim();
      const what = /^[+-]?\d+(\.0*)?$/.test(cell)
        ? `index ${cell} is out of range: the training set has ${classes.length} classes`
        : Number.isFinite(Number(cell)) && cell !== ''
          ? `${JSON.stringify(r['label'])} is neither a class name nor an index`
          : `class ${JSON.stringify(cell)} is not a class of the training set`;
      throw new DatasetError(
        `${csvPath}: data row ${k + 1} (id ${id}): ${what}; a label must be ${labelRule(classes)}`,
      );
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
  const rows = items.map((it) => [
    path.relative(root, path.resolve(root, it.path)).split(path.sep).join('/'),
    it.label,
  ]);
  await writeCsv(csvPath, ['path', 'label'], rows);
}

/**
 * Read a `path,label` list written by `writeImageList`; paths come back
 * absolute, ids as in `readLabelledDataset` (`folder/stem` when the image sits
 * in its class's folder, else the file's stem).
 */
export async function readImageList(
  csvPath: string,
  root: string,
  classes: readonly string[],
): Promise<LabelledImage[]> {
  const { records } = await readCsv(csvPath, ['path', 'label']);
  return records.map((r, k) => {
    const n = Number(r['label'].trim());
    if (!(r['label'].trim() !== '' && Number.isInteger(n) && n >= 0 && n < classes.length)) {
      throw new DatasetError(
        `${csvPath}: data row ${k + 1}: label must be a class index 0–${classes.length - 1}, got ${JSON.stringify(r['label'])}`,
      );
    }
    const rel = r['path'];
    if (rel === '') throw new DatasetError(`${csvPath}: data row ${k + 1}: empty path`);
    const abs = path.resolve(root, rel);
    const parent = path.basename(path.dirname(abs));
    const id = parent === classes[n] ? `${parent}/${stem(path.basename(abs))}` : stem(path.basename(abs));
    return { path: abs, label: n, id };
  });
}
