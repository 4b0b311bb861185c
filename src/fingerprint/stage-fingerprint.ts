import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { ResolvedStage } from '../config/pipeline.ts';
import { canonicalJson } from './canonical-json.ts';
import { sha256 } from './content-hash.ts';
import { isUrl } from '../config/paths.ts';
import { packageFile } from '../package-files.ts';
import { expandGlob, isGlob } from './glob-deps.ts';
import { moduleClosure } from './module-imports.ts';
import type { HashedPath, PathHasher } from './path-hasher.ts';
import { toPosix } from './path-hasher.ts';

/** What the stage runs: a shell command, or a module plus the project files it imports. */
export type CodeFingerprint =
  /** `template`: the cmd before interpolation, for reasons only (not hashed). */
  | { cmd: string; template?: string }
  | {
      module: string;
      /** Hash over `files`, plus the engine's module runner and contract. */
      hash: string;
      /** Project-relative path → content hash, for every file in the import closure. */
      files: Record<string, string>;
    };

/** A dep as recorded: content hash and size; folders and globs also carry their file count. */
export interface DepRecord {
  path: string;
  hash: string;
  size: number;
  files?: number;
}

export interface StageFingerprint {
  /** sha256 over everything below: equal hashes mean the stage would compute the same thing. */
  hash: string;
  code: CodeFingerprint;
  params: Record<string, unknown>;
  deps: DepRecord[];
  outs: string[];
  /** Deps absent right now (not yet made by an upstream stage, or deleted). */
  missingDeps: string[];
}

/** Marks a dep that does not exist; never equal to a real content hash. */
export const MISSING_HASH = 'missing';

let runnerContractHash: string | undefined;
/**
 * Module stages also depend on how the engine calls them: a change to the
 * stage contract or to the module runner invalidates every module stage.
 */
function moduleRunnerHash(): string {
  if (runnerContractHash === undefined) {
    runnerContractHash = sha256(
      readFileSync(packageFile('src/contract.ts'), 'utf8') + '\0' + readFileSync(packageFile('src/execution/module-runner.ts'), 'utf8'),
    );
  }
  return runnerContractHash;
}

export function projectPath(root: string, absPath: string): string {
  const rel = relative(root, absPath);
  return rel.startsWith('..') || isAbsolute(rel) ? absPath : toPosix(rel);
}

async function codeFingerprint(stage: ResolvedStage, root: string, hasher: PathHasher): Promise<CodeFingerprint> {
  if (stage.module === undefined) return { cmd: stage.cmd ?? '', ...(stage.cmdTemplate !== undefined ? { template: stage.cmdTemplate } : {}) };
  const files: Record<string, string> = {};
  const lines: string[] = [`runner\t${moduleRunnerHash()}\n`];
  for (const absPath of moduleClosure(root, resolve(root, stage.module))) {
    const hashed = await hasher.hashPath(absPath);
    const hash = hashed.kind === 'file' ? hashed.hash : MISSING_HASH;
    const path = projectPath(root, absPath);
    files[path] = hash;
    lines.push(`${path}\t${hash}\n`);
  }
  return { module: stage.module, hash: sha256(lines.join('')), files };
}

/** Hash one dep: a file, a folder (manifest), or a glob (manifest of its sorted matches). */
export async function hashDep(root: string, dep: string, hasher: PathHasher): Promise<HashedPath> {
  // A URL stands for its content: planning never touches the network. Pin versions in the URL, or --force to refetch.
  if (isUrl(dep)) return { kind: 'file', hash: sha256(`url\0${dep}`), size: 0, mode: 0 };
  if (isGlob(dep)) return hasher.hashFileList(root, await expandGlob(root, dep));
  return hasher.hashPath(resolve(root, dep));
}

/**
 * `predicted` gives the content some deps will have rather than what is on disk now
 * (outs an upstream stage is about to get back from the run cache), for planning.
 */
export async function fingerprintStage(
  stage: ResolvedStage,
  root: string,
  hasher: PathHasher,
  predicted?: ReadonlyMap<string, HashedPath>,
): Promise<StageFingerprint> {
  const code = await codeFingerprint(stage, root, hasher);
  const deps: DepRecord[] = [];
  const missingDeps: string[] = [];
  for (const dep of stage.deps) {
    const hashed = predicted?.get(dep) ?? (await hashDep(root, dep, hasher));
    if (hashed.kind === 'missing') {
      missingDeps.push(dep);
      deps.push({ path: dep, hash: MISSING_HASH, size: 0 });
    } else if (hashed.kind === 'file') {
      deps.push({ path: dep, hash: hashed.hash, size: hashed.size });
    } else {
      deps.push({ path: dep, hash: hashed.hash, size: hashed.size, files: hashed.files });
    }
  }
  const hashed = {
    code: 'cmd' in code ? { cmd: code.cmd } : { module: code.module, hash: code.hash },
    params: stage.params,
    deps: deps.map((dep) => [dep.path, dep.hash]),
    outs: stage.outs,
  };
  return { hash: sha256(canonicalJson(hashed)), code, params: stage.params, deps, outs: [...stage.outs], missingDeps };
}
