import { resolve } from 'node:path';

/** Absolute paths of the files a glob matches, sorted. fast-glob loads only when a pipeline uses globs. */
export async function expandGlob(root: string, pattern: string): Promise<string[]> {
  const { default: fastGlob } = await import('fast-glob');
  const matches = await fastGlob(pattern, { cwd: root, onlyFiles: true, dot: true, followSymbolicLinks: true });
  return matches.sort().map((match) => resolve(root, match));
}
