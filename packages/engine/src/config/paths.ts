/**
 * Project paths as the engine compares them: POSIX separators, normalized,
 * relative to the folder of pipeline.yaml (`../…` when outside it), no trailing slash.
 */
import path from 'node:path';

/** An http(s) URL: a remote dep, identified by the URL itself (nothing is fetched to plan a run). */
export function isUrl(p: string): boolean {
  return /^https?:\/\//i.test(p);
}

export function normalizePath(written: string): string {
  if (isUrl(written)) return written;
  const posix = written.replace(/\\/g, '/');
  if (path.posix.isAbsolute(posix)) return path.posix.normalize(posix).replace(/(.)\/+$/, '$1');
  const normalized = path.posix.normalize(posix).replace(/\/+$/, '');
  return normalized === '' ? '.' : normalized;
}

/** True when `child` is `parent` or lies inside it (both normalized). */
export function isWithin(child: string, parent: string): boolean {
  if (parent === '.') return !child.startsWith('../') && child !== '..' && !path.posix.isAbsolute(child);
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`);
}

/** Whether two paths overlap: one equals or contains the other. */
export function overlaps(a: string, b: string): boolean {
  return isWithin(a, b) || isWithin(b, a);
}

/** True when the path lies inside the project folder (not `..`, not absolute). */
export function isInsideProject(normalized: string): boolean {
  return (
    normalized !== '.' && normalized !== '..' && !normalized.startsWith('../') && !path.posix.isAbsolute(normalized)
  );
}

const GLOB_CHARS = /[*?[\]{}]|^!|[@!+]\(/;

/** Whether a dep is a glob pattern (fast-glob syntax) rather than a literal path. */
export function isGlob(p: string): boolean {
  return GLOB_CHARS.test(p);
}

/** The literal folder a glob starts from: `data/**\/*.csv` → `data`. */
export function globBase(pattern: string): string {
  const parts = pattern.split('/');
  const literal: string[] = [];
  for (const part of parts) {
    if (isGlob(part)) break;
    literal.push(part);
  }
  if (literal.length === parts.length) literal.pop();
  return literal.length ? literal.join('/') : '.';
}
