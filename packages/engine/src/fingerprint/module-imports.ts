import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

/**
 * Finds the project files a stage module depends on: the module itself plus
 * every file it imports through static relative specifiers, transitively.
 * Bare package imports (`sharp`, `node:fs`) are not project code and are
 * ignored; so are files outside the project root.
 */

// `import x from './a.ts'`, `import './a.ts'`, `import type {T} from './a.ts'`, `export * from './a.ts'`, `export {x} from './a.ts'`
const STATIC_IMPORT = /(?:^|[^\w$.])(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"\n]+)['"]/g;
// `import('./a.ts')` with a literal string
const DYNAMIC_IMPORT = /(?:^|[^\w$.])import\(\s*['"](\.{1,2}\/[^'"\n]+)['"]\s*\)/g;

const RESOLVE_SUFFIXES = ['', '.ts', '.tsx', '.mts', '.js', '.mjs', '/index.ts', '/index.js'];

export function relativeSpecifiers(source: string): string[] {
  const found = new Set<string>();
  for (const pattern of [STATIC_IMPORT, DYNAMIC_IMPORT]) {
    pattern.lastIndex = 0;
    for (const match of source.matchAll(pattern)) found.add(match[1]);
  }
  return [...found];
}

/** Resolve a relative specifier the way tsx does: exact file, `.js` written for a `.ts` source, or an added extension. */
export function resolveSpecifier(fromFile: string, specifier: string): string | undefined {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [...RESOLVE_SUFFIXES.map((suffix) => base + suffix)];
  if (/\.(m?js|jsx)$/.test(specifier)) candidates.unshift(base.replace(/\.(m?)js(x?)$/, '.$1ts$2'));
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** Absolute paths of the module and its transitive project imports, sorted. */
export function moduleClosure(root: string, entryFile: string): string[] {
  const seen = new Set<string>();
  const pending = [entryFile];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch {
      continue; // a missing entry module is reported by the caller
    }
    for (const specifier of relativeSpecifiers(source)) {
      const target = resolveSpecifier(file, specifier);
      if (!target || !isInside(root, target) || target.includes('/node_modules/')) continue;
      pending.push(target);
    }
  }
  return [...seen].sort();
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}
