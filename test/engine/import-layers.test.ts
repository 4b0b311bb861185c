/**
 * Imports between src/ folders go one way. The layers, lowest first; a file
 * may import its own layer and any layer below it, never one above:
 *
 *   src/*.ts      errors, atomic-write, package-files, param-rules, contract:
 *                 shared by every phase (contract.ts is also what stages import)
 *   config        pipeline.yaml → a validated Pipeline
 *   graph         the Pipeline → a DAG of stages, targets
 *   fingerprint   hashing files, folders and stages; the state store
 *   cache         pipeline.lock and the run cache, keyed by fingerprints
 *   execution     deciding, running (local / Slurm executors), committing outs;
 *                 the run lock and session
 *   logging       how a run is shown (reporters, reason words)
 *   experiments   runs recorded and compared, sweeps, `executeRun` (a run with its record)
 *   cli           parses flags, calls one of the above, prints; the only layer that writes to the terminal
 *
 * A type-only import counts: a loop in types is a loop in the design. Every
 * import of src/ is read with TypeScript's own pre-processor (static, dynamic
 * and re-exports).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const LAYERS: readonly string[] = [
  'src/*.ts',
  'config',
  'graph',
  'fingerprint',
  'cache',
  'execution',
  'logging',
  'experiments',
  'cli',
];

const srcRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../packages/engine/src');

interface Import {
  from: string;
  to: string;
}

/** `config`, `execution`…; a file directly in src/ is in `src/*.ts`. */
function layerOf(file: string): string {
  const parts = relative(srcRoot, file).split(sep);
  return parts.length === 1 ? 'src/*.ts' : parts[0];
}

function srcImports(): Import[] {
  const files = readdirSync(srcRoot, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(srcRoot, f));
  assert.ok(files.length > 50, `found only ${files.length} files under ${srcRoot}`);
  return files.flatMap((file) =>
    ts
      .preProcessFile(readFileSync(file, 'utf8'), true, true)
      .importedFiles.filter((i) => i.fileName.startsWith('.'))
      .map((i) => ({ from: file, to: resolve(dirname(file), i.fileName) })),
  );
}

const shown = ({ from, to }: Import): string => `${relative(srcRoot, from)} → ${relative(srcRoot, to)}`;

test('every src/ folder has its place in the layers', () => {
  const folders = new Set(srcImports().flatMap((i) => [layerOf(i.from), layerOf(i.to)]));
  const unplaced = [...folders].filter((f) => !LAYERS.includes(f));
  assert.deepEqual(
    unplaced,
    [],
    `add ${unplaced.join(', ')} to LAYERS in ${relative(process.cwd(), fileURLToPath(import.meta.url))}`,
  );
});

test('src/ imports nothing outside src/ by path (the engine knows stages only through src/contract.ts)', () => {
  const outside = srcImports().filter((i) => relative(srcRoot, i.to).startsWith('..'));
  assert.deepEqual(outside.map(shown), []);
});

test('no folder imports a folder above it', () => {
  const rank = (file: string) => LAYERS.indexOf(layerOf(file));
  const upward = srcImports().filter((i) => rank(i.to) > rank(i.from));
  assert.deepEqual(
    upward.map((i) => `${shown(i)} (${layerOf(i.from)} is below ${layerOf(i.to)})`),
    [],
    `layers, lowest first: ${LAYERS.join(' → ')}; move what both need into the lower folder`,
  );
});

test('no import loop between folders', () => {
  const edges = new Map<string, Map<string, Import>>();
  for (const i of srcImports()) {
    const [a, b] = [layerOf(i.from), layerOf(i.to)];
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, i);
  }
  // A depth-first walk: reaching a folder still on the path closes a loop.
  const loops: string[] = [];
  const done = new Set<string>();
  const walk = (folder: string, path: string[]): void => {
    if (done.has(folder)) return;
    for (const [next, example] of edges.get(folder) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        const loop = [...path.slice(at), folder, next];
        loops.push(`${loop.join(' → ')} (e.g. ${shown(example)})`);
      } else walk(next, [...path, folder]);
    }
    done.add(folder);
  };
  for (const folder of edges.keys()) walk(folder, []);
  assert.deepEqual(loops, []);
});
