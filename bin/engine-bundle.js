// The engine's bundle: src/ compiled by esbuild into dist/engine/<stamp>/, made on the
// first call and again whenever a file under src/ changed (its list, size or mtime).
// Starting the engine from TypeScript through tsx costs about 0.3 s per call (tsx's own
// start is most of it); the bundle starts in a few ms. Checking freshness is one stat per
// source file. Stage modules never go through the bundle: the module runner loads them
// from source, so an edited stage never runs stale.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const srcDir = join(root, 'src');
const engineDir = join(root, 'dist', 'engine');
const ENTRY = 'cli/main.ts';

/** One line per source file (path, size, mtime), hashed: changes when any source does. */
function sourceStamp() {
  const lines = [];
  for (const entry of readdirSync(srcDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath ?? entry.path, entry.name);
    const { size, mtimeMs } = statSync(file);
    lines.push(`${file.slice(srcDir.length + 1)}\t${size}\t${mtimeMs}`);
  }
  // How the bundle is made (this file) and what stays external (package.json) count too.
  for (const file of [fileURLToPath(import.meta.url), join(root, 'package.json')]) {
    const { size, mtimeMs } = statSync(file);
    lines.push(`${file}\t${size}\t${mtimeMs}`);
  }
  return createHash('sha256').update(lines.sort().join('\n')).digest('hex').slice(0, 16);
}

/** Builds into a temporary folder and renames it into place, so concurrent calls never see half a bundle. */
async function build(target) {
  const { build: esbuild } = await import('esbuild');
  const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const temp = `${target}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  await esbuild({
    entryPoints: { main: join(srcDir, ENTRY) },
    bundle: true,
    splitting: true, // the CLI's lazily imported commands stay lazy
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Dependencies stay external, except yaml, read on every call: one bundled file loads faster than its 73 modules.
    external: Object.keys(dependencies).filter((name) => name !== 'yaml'),
    // yaml is CommonJS and requires node builtins: give the ESM chunks a real require.
    banner: { js: "import { createRequire as __engineRequire } from 'node:module'; const require = __engineRequire(import.meta.url);" },
    outdir: temp,
    sourcemap: 'linked',
    logLevel: 'silent',
  });
  try {
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error; // else: a concurrent call built it first
  }
  // Older bundles go once they are a day old: a run started from one may still load its lazy chunks.
  const dayAgo = Date.now() - 86_400_000;
  for (const old of readdirSync(engineDir)) {
    const dir = join(engineDir, old);
    if (dir !== target && statSync(dir).mtimeMs < dayAgo) rmSync(dir, { recursive: true, force: true });
  }
}

/** URL of the engine's CLI module: the bundle when it can be had, else the sources through tsx. */
export async function engineEntry() {
  try {
    const target = join(engineDir, sourceStamp());
    const main = join(target, 'main.js');
    try {
      statSync(main);
    } catch {
      mkdirSync(engineDir, { recursive: true });
      await build(target);
    }
    return pathToFileURL(main).href;
  } catch (error) {
    // No esbuild, or a read-only checkout: run from source, only slower.
    if (process.env.PIPELINE_DEBUG) process.stderr.write(`note: engine bundle unavailable (${error.message}); running from source\n`);
    const { register } = await import('tsx/esm/api');
    register();
    return pathToFileURL(join(srcDir, ENTRY)).href;
  }
}
