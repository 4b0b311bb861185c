/**
 * Files of the pipeline package itself (package.json, schemas/, the module
 * runner), found from wherever the engine's code runs: its TypeScript sources
 * under src/ or their build under dist/.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export const packageRoot = findPackageRoot();

/** Absolute path of a file of the package, e.g. `packageFile('schemas/pipeline.schema.json')`. */
export function packageFile(relative: string): string {
  return join(packageRoot, relative);
}
