/** Small formatting helpers the stages share for their reports and lists. */
import path from 'node:path';

/** `x` rounded to `digits` decimals (for JSON reports and progress metrics). */
export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** `p` relative to the project root with forward slashes, as written into artifacts; the root itself is `.`. */
export function projectRelative(root: string, p: string): string {
  return path.relative(root, p).split(path.sep).join('/') || '.';
}
