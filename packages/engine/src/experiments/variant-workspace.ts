/**
 * A sweep variant's workspace: the project seen through a folder of its own.
 *
 * Outs (and deps inside outs) live under the variant folder; everything else
 * (data, stage modules, `../shared/…`) is the project's. The variant folder
 * mirrors the project with symlinks so a `cmd:` stage run there finds the
 * project's files, but gets real folders wherever an out goes, so variants
 * running at once never write into each other's (or the project's) outs.
 *
 * Paths recorded and hashed stay project-relative, and `.pipeline/` (run
 * cache, hash cache) is the project's: a stage has the same fingerprint in
 * every variant that gives it the same inputs, so one variant's result is
 * every other's restore.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LockDocument } from '../cache/lock-file.ts';
import type { Pipeline } from '../config/pipeline.ts';
import { isWithin } from '../config/paths.ts';
import type { StateStore } from '../fingerprint/state-store.ts';
import { globCouldMatchUnder } from '../graph/glob-match.ts';
import { Workspace } from '../execution/workspace.ts';

export class VariantWorkspace extends Workspace {
  private readonly allOuts: string[];

  /** `pipeline.file` is the variant's copy of pipeline.yaml (so its lock is the variant's); `pipeline.root` stays the project. */
  constructor(
    pipeline: Pipeline,
    store: StateStore,
    lock: LockDocument,
    readonly folder: string,
  ) {
    super(pipeline, store, lock, []);
    this.allOuts = [...pipeline.stages.values()].flatMap((stage) => stage.outs);
  }

  /** Commands run here, and module stages see it as ctx.root. */
  override get root(): string {
    return this.folder;
  }

  private inOuts(path: string): boolean {
    return this.allOuts.some((out) => isWithin(path, out));
  }

  override absolute(path: string): string {
    return resolve(this.inOuts(path) ? this.folder : this.pipeline.root, path);
  }

  /** A glob that could match inside an out is expanded in the variant's folder; any other in the project (never through the mirror's symlinks). */
  override globRoot(pattern: string): string {
    return this.allOuts.some((out) => globCouldMatchUnder(pattern, out)) ? this.folder : this.pipeline.root;
  }
}

/**
 * Fill `folder` with symlinks to the project's entries, except the engine's
 * folders, the pipeline file and its lock, and the outs; a folder that holds
 * an out becomes a real folder, mirrored one level down.
 */
export function mirrorProject(projectRoot: string, folder: string, outs: string[], skip: string[]): void {
  const walk = (rel: string): void => {
    const target = join(folder, rel);
    mkdirSync(target, { recursive: true });
    for (const name of readdirSync(join(projectRoot, rel))) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (rel === '' && (name === '.pipeline' || name === '.git' || skip.includes(name))) continue;
      if (outs.some((out) => isWithin(path, out))) continue;
      const holdsOut = outs.some((out) => isWithin(out, path));
      if (holdsOut && lstatSync(join(projectRoot, path)).isDirectory()) walk(path);
      else if (!existsSync(join(target, name))) symlinkSync(join(projectRoot, path), join(target, name));
    }
  };
  walk('');
}
