import { resolve } from 'node:path';

// One definition of "is a glob" for config, graph and engine.
export { isGlob } from '../config/paths.ts';

/** Absolute paths of the files a glob matches, sorted. fast-glob loads only when a pipeline uses globs. */
export async function expandGlob(root: string, pattern: string): Promise<string[]> {
  const { default: fastGlob } = await import('fast-glob');
  const matches = await fastGlob(pattern, { cwd: root, onlyFiles: true, dot: true, followSymbolicLinks: true });
  return matches.sort().map((match) => resolve(root, match));
}
