/**
 * The class list: `split` resolves it from the training folder (or
 * data.classes) and writes it as `artifacts/classes/classes.json`; every later
 * stage reads it from there (or from the trained head), so a label k means `classes[k]`
 * everywhere. Two classes train a sigmoid unit giving P(classes[1]); more
 * train a softmax over all of them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const CLASSES_FILE = 'classes.json';

/** Two classes: one sigmoid output, P(second class). More: one softmax output per class. */
export function headUnits(classes: readonly string[]): number {
  return classes.length === 2 ? 1 : classes.length;
}

export async function writeClassList(dir: string, classes: readonly string[]): Promise<void> {
  await writeFile(path.join(dir, CLASSES_FILE), JSON.stringify({ classes }, null, 2) + '\n');
}

/** The classes of a `classes.json`, checked: two or more distinct names. */
export async function readClassList(file: string): Promise<string[]> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as { classes?: unknown };
  return checkClassList(raw.classes, file);
}

export function checkClassList(classes: unknown, where: string): string[] {
  const ok =
    Array.isArray(classes) &&
    classes.length >= 2 &&
    classes.every((c) => typeof c === 'string' && c !== '') &&
    new Set(classes).size === classes.length;
  if (!ok)
    throw new Error(`${where}: expected a list of two or more distinct class names, got ${JSON.stringify(classes)}`);
  return classes as string[];
}
