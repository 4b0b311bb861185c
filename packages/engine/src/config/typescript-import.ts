/**
 * Importing a small TypeScript file of the project (a stage's param
 * declaration) from the engine. Under tsx a plain import works. The engine
 * normally runs compiled (dist/) without tsx (registering it costs ~0.2 s a
 * call), so there the file and what it imports are bundled by esbuild into
 * `.pipeline/compiled/`, reused while none of those inputs changed (one stat
 * each): a no-op command never starts esbuild.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';

interface CompiledRecord {
  /** Every file the bundle was made from, with the size and mtime it had. */
  inputs: [file: string, size: number, mtimeMs: number][];
  output: string;
}

export async function importTypeScript(absolute: string, root: string): Promise<unknown> {
  try {
    return await import(pathToFileURL(absolute).href);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
  }
  const dir = path.join(root, '.pipeline', 'compiled');
  const id = createHash('sha256').update(absolute).digest('hex').slice(0, 16);
  const recordFile = path.join(dir, `${id}.json`);
  let record = readRecord(recordFile);
  if (!record || !isFresh(record)) record = await compile(absolute, dir, id, recordFile);
  return import(`${pathToFileURL(record.output).href}?v=${statSync(record.output).mtimeMs}`);
}

function readRecord(file: string): CompiledRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CompiledRecord;
  } catch {
    return undefined; // never compiled, or a torn record: compile again
  }
}

function isFresh(record: CompiledRecord): boolean {
  try {
    statSync(record.output);
    return record.inputs.every(([file, size, mtimeMs]) => {
      const stats = statSync(file);
      return stats.size === size && stats.mtimeMs === mtimeMs;
    });
  } catch {
    return false;
  }
}

/**
 * Packages stay out of the bundle, imported by the path they resolve to from the file that names them: the bundle
 * lives under .pipeline/compiled/, where a bare name may not resolve (a project whose stages/ is a link, say). One
 * that does not resolve from its source either stays as written, and fails when imported.
 */
const packagesWhereTheyAre: Plugin = {
  name: 'packages-where-they-are',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async ({ path: specifier, kind, resolveDir, pluginData }) => {
      if (pluginData === packagesWhereTheyAre || isBuiltin(specifier)) return undefined;
      const resolved = await build.resolve(specifier, { kind, resolveDir, pluginData: packagesWhereTheyAre });
      return { path: resolved.errors.length === 0 ? resolved.path : specifier, external: true };
    });
  },
};

async function compile(absolute: string, dir: string, id: string, recordFile: string): Promise<CompiledRecord> {
  const { build } = await import('esbuild');
  // esbuild names its inputs relative to the working folder after following links: resolve them from the real one.
  const workingDir = realpathSync(path.dirname(absolute));
  const result = await build({
    entryPoints: [absolute],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [packagesWhereTheyAre],
    write: false,
    metafile: true,
    absWorkingDir: workingDir,
    logLevel: 'silent',
  }).catch(
    (error: { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }) => {
      const first = error.errors?.[0];
      if (!first) throw error;
      const where = first.location
        ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: `
        : '';
      throw new Error(`${where}${first.text}`);
    },
  );
  mkdirSync(dir, { recursive: true });
  const output = path.join(dir, `${id}.mjs`);
  const temp = `${output}.${process.pid}.tmp`;
  writeFileSync(temp, result.outputFiles[0].contents);
  renameSync(temp, output);
  const inputs = Object.keys(result.metafile.inputs).map((input): CompiledRecord['inputs'][number] => {
    const file = path.resolve(workingDir, input);
    const stats = statSync(file);
    return [file, stats.size, stats.mtimeMs];
  });
  const record: CompiledRecord = { inputs, output };
  writeFileSync(`${recordFile}.${process.pid}.tmp`, JSON.stringify(record));
  renameSync(`${recordFile}.${process.pid}.tmp`, recordFile);
  return record;
}
