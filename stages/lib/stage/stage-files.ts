/**
 * Finding the files a stage reads inside its dep folders, with errors that say
 * which upstream stage should have written them.
 */
import { access, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { StageContext } from 'pipeline-ml-engine';

/** The first dep (a folder, or a file inside it) that holds `name`; `what` names the producer for the error. */
export async function findInDeps(deps: readonly string[], name: string, what: string): Promise<string> {
  for (const dep of deps) {
    for (const candidate of [path.join(dep, name), path.basename(dep) === name ? dep : '']) {
      if (candidate && (await exists(candidate))) return candidate;
    }
  }
  throw new Error(`${name} (written by ${what}) is in none of this stage's deps: ${deps.join(', ')}`);
}

/** The dep folder that contains `marker` (e.g. the backbone folder by its info.json). */
export async function depFolderWith(deps: readonly string[], marker: string, what: string): Promise<string> {
  return path.dirname(await findInDeps(deps, marker, what));
}

export async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/**
 * The stage's out folders, created: the first `count` of `ctx.outs`. A stage
 * declared with fewer outs gets an error saying what pipeline.yaml should list.
 */
export async function outFolders(
  ctx: Pick<StageContext, 'stage' | 'outs'>,
  names: readonly string[],
): Promise<string[]> {
  if (ctx.outs.length < names.length) {
    throw new Error(
      `stage ${ctx.stage} writes ${names.length} out folder(s) (${names.join(', ')}); pipeline.yaml declares ${ctx.outs.length}`,
    );
  }
  const dirs = ctx.outs.slice(0, names.length);
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  return dirs;
}

/** Files in a folder, or [] when it does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
