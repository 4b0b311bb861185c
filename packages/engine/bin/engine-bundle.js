// The engine's bundle: src/ compiled by esbuild into dist/engine/<stamp>/main.cjs, made on the first call and again
// whenever a file under src/ changed (its list, size or mtime). Starting the engine from TypeScript through tsx costs
// about 0.3 s per call (tsx's own start is most of it); the bundle starts in a few ms. Checking freshness is one stat
// per source file. Stage modules never go through the bundle: the module runner loads them from source, so an edited
// stage never runs stale.
//
// The bundle is one script run through vm.Script with V8's code cache (Node 20 has none for ES modules): a call
// compiles next to nothing, most of its functions come compiled from the cache the first call of that command left
// (main.<command>.cache, rejected and rewritten by V8 after a Node upgrade). Being a script, it gets `import()`,
// `import.meta.url` and `import.meta.resolve` from here, as wrapper parameters.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const srcDir = join(root, 'src');
const engineDir = join(root, 'dist', 'engine');
const ENTRY = 'cli/main.ts';
const BUNDLE = 'main.cjs';
/** What the bundle's code calls instead of `import(` and `import.meta.resolve`, and where its `import.meta.url` comes from. */
const IMPORT = '__engineImport';
const META_RESOLVE = '__engineMetaResolve';
const META_URL = '__engineMetaUrl';
const WRAPPER_PARAMETERS = ['exports', 'require', 'module', '__filename', '__dirname', IMPORT, META_RESOLVE];

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
  const { build: esbuild, transform } = await import('esbuild');
  const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const temp = `${target}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  const result = await esbuild({
    entryPoints: [join(srcDir, ENTRY)],
    bundle: true,
    format: 'cjs', // a script: only scripts get a code cache; the CLI's lazily imported commands stay lazily initialised
    platform: 'node',
    target: 'node20',
    // Dependencies stay external, except yaml, read on every call.
    external: Object.keys(dependencies).filter((name) => name !== 'yaml'),
    define: { 'import.meta.url': META_URL, 'import.meta.resolve': META_RESOLVE },
    banner: { js: `const ${META_URL} = require('node:url').pathToFileURL(__filename).href;` },
    outfile: join(temp, BUNDLE),
    sourcemap: 'linked',
    write: false,
    logLevel: 'silent',
  });
  // import.meta.url and import.meta.resolve are defined; any other use of import.meta would be an empty object in a script.
  const meta = result.warnings.find((warning) => warning.id === 'empty-import-meta');
  if (meta) throw new Error(`cannot bundle the engine as a script: ${meta.text}`);
  mkdirSync(temp, { recursive: true });
  for (const file of result.outputFiles) {
    // A script compiled by vm.Script cannot import(): the calls go to the wrapper's importer.
    const text = file.path.endsWith('.map') ? file.text : file.text.replace(/\bimport\(/g, `${IMPORT}(`);
    writeFileSync(file.path, text);
  }
  // That rewrite is textual: parsed again, every `__engineImport(` must be a call of the free variable, none in a
  // string, a regex or a property name (esbuild's define renames only the variable).
  const code = readFileSync(join(temp, BUNDLE), 'utf8');
  const checked = await transform(code, { loader: 'js', define: { [IMPORT]: `${IMPORT}Checked` }, logLevel: 'silent' });
  if (new RegExp(`${IMPORT}\\(`).test(checked.code)) throw new Error(`cannot bundle the engine as a script: "import(" in a string or name of src/`);
  try {
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error; // else: a concurrent call built it first
  }
  // Older bundles go once they are a day old: a run started from one may still read it.
  const dayAgo = Date.now() - 86_400_000;
  for (const old of readdirSync(engineDir)) {
    const dir = join(engineDir, old);
    if (dir !== target && statSync(dir).mtimeMs < dayAgo) rmSync(dir, { recursive: true, force: true });
  }
}

/** The bundle run as a CommonJS module through vm.Script, with the code cache of `command`'s calls. */
function runBundle(target, command) {
  const file = join(target, BUNDLE);
  const cacheFile = join(target, `main.${/^[a-z]{1,16}$/.test(command ?? '') ? command : 'other'}.cache`);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // First call of this command since the build.
  }
  const script = new Script(`(function (${WRAPPER_PARAMETERS.join(', ')}) {${readFileSync(file, 'utf8')}\n})`, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, target, (specifier) => import(specifier), (specifier) => import.meta.resolve(specifier));
  const saveCache = () => {
    if (cachedData !== undefined && !script.cachedDataRejected) return;
    try {
      // After the call, so the functions it compiled are in (V8 includes what ran). Atomic, for concurrent calls.
      const temp = `${cacheFile}.tmp-${process.pid}`;
      writeFileSync(temp, script.createCachedData());
      renameSync(temp, cacheFile);
    } catch {
      // A read-only checkout: no cache, only slower.
    }
  };
  return { main: module.exports.main, saveCache };
}

/**
 * The engine's CLI (`main(argv)`) and what to call once it returned (`saveCache`): the bundle when it can be had,
 * else the sources through tsx.
 */
export async function loadEngine(argv) {
  let target;
  try {
    target = join(engineDir, sourceStamp());
    try {
      statSync(join(target, BUNDLE));
    } catch {
      mkdirSync(engineDir, { recursive: true });
      await build(target);
    }
  } catch (error) {
    // No esbuild, or a read-only checkout: run from source, only slower.
    if (process.env.PIPELINE_DEBUG) process.stderr.write(`note: engine bundle unavailable (${error.message}); running from source\n`);
    const { register } = await import('tsx/esm/api');
    register();
    const { main } = await import(pathToFileURL(join(srcDir, ENTRY)).href);
    return { main, saveCache: () => {} };
  }
  return runBundle(target, argv[0]);
}
