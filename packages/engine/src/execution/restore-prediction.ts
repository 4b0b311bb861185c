/**
 * Planning across run-cache restores: when an upstream stage is about to get
 * its outs back from the run cache, the cache record already says what they
 * will hold, so a downstream stage's deps can be hashed before anything moves.
 * That lets `status` and `--dry-run` say what `run` will really do for the
 * whole chain after a param round trip (restore, restore, …) instead of
 * "stale" below the first restore.
 */
import type { CachedOut } from '../cache/run-cache.ts';
import type { Dep } from '../config/dep.ts';
import { isWithin } from '../config/paths.ts';
import type { HashedPath } from '../fingerprint/path-hasher.ts';
import { hashedManifest } from '../fingerprint/path-hasher.ts';
import { globCouldMatchUnder } from '../graph/glob-match.ts';

/**
 * The content each dep will have once `restored` are in place: deps equal to
 * or inside a restored out are taken from the cache record; other deps are
 * left out (hash them from disk). Undefined when some dep cannot be predicted
 * (a glob or a folder that takes in a restored out along with other files).
 */
export function predictDeps(deps: readonly Dep[], restored: readonly CachedOut[]): Map<string, HashedPath> | undefined {
  const predicted = new Map<string, HashedPath>();
  for (const { kind, written: dep } of deps) {
    if (kind === 'url') continue;
    for (const out of restored) {
      if (kind === 'glob') {
        if (globCouldMatchUnder(dep, out.path)) return undefined;
        continue;
      }
      if (dep === out.path) {
        predicted.set(dep, wholeOut(out));
        break;
      }
      if (isWithin(dep, out.path)) {
        predicted.set(dep, insideOut(out, dep.slice(out.path.length + 1)));
        break;
      }
      if (isWithin(out.path, dep)) return undefined;
    }
  }
  return predicted;
}

function wholeOut(out: CachedOut): HashedPath {
  if (out.kind === 'file') return { kind: 'file', hash: out.hash, size: out.size, mode: out.mode ?? 0o644 };
  return hashedManifest((out.manifest ?? []).map((entry) => ({ ...entry })));
}

/** A file or subfolder `rel` of a restored folder out. */
function insideOut(out: CachedOut, rel: string): HashedPath {
  if (out.kind === 'file') return { kind: 'missing' };
  const manifest = out.manifest ?? [];
  const file = manifest.find((entry) => entry.path === rel);
  if (file) return { kind: 'file', hash: file.hash, size: file.size, mode: file.mode };
  const inside = manifest
    .filter((entry) => entry.path.startsWith(`${rel}/`))
    .map((entry) => ({ ...entry, path: entry.path.slice(rel.length + 1) }));
  return inside.length > 0 ? hashedManifest(inside) : { kind: 'missing' };
}
