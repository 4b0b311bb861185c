/**
 * A stage's dep, classified once when pipeline.yaml is loaded: graph building,
 * fingerprinting, restore prediction and the stage's `ctx.deps` all switch on
 * `kind` instead of re-reading the string.
 */
import path from 'node:path';
import { isGlob, isUrl } from './paths.ts';

export type DepKind =
  /** A file or a folder: which one is known only when it is hashed (an upstream stage may not have made it yet). */
  | 'path'
  /** A fast-glob pattern; the stage receives exactly the matches that were hashed. */
  | 'glob'
  /** An http(s) URL, identified by the URL itself: nothing is fetched to plan a run. */
  | 'url';

export interface Dep {
  kind: DepKind;
  /** As written after interpolation, normalized (project-relative, POSIX): the name in the lock and in reasons. */
  written: string;
  /** Absolute path in the project (a glob: its absolute pattern; a URL: the URL). */
  absolute: string;
}

export function depOf(written: string, root: string): Dep {
  if (isUrl(written)) return { kind: 'url', written, absolute: written };
  return { kind: isGlob(written) ? 'glob' : 'path', written, absolute: path.resolve(root, written) };
}
