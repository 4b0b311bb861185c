import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { ResolvedStage } from '../config/pipeline.ts';
import { canonicalJson } from './canonical-json.ts';
import { sha256 } from './content-hash.ts';
import type { Dep } from '../config/dep.ts';
import { packageFile } from '../package-files.ts';
import { expandGlob } from './glob-deps.ts';
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
  /** What the stage receives as `ctx.deps`, in dep order: each path dep's absolute path, each glob's hashed matches, each URL. */
  inputs: string[];
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
      readFileSync(packageFile('src/contract.ts'), 'utf8') +
        '\0' +
        readFileSync(packageFile('src/execution/module-runner.ts'), 'utf8'),
    );
  }
  return runnerContractHash;
}

export function projectPath(root: string, absPath: string): string {
  const rel = relative(root, absPath);
  return rel.startsWith('..') || isAbsolute(rel) ? absPath : toPosix(rel);
}

async function codeFingerprint(stage: ResolvedStage, root: string, hasher: PathHasher): Promise<CodeFingerprint> {
  if (stage.module === undefined)
    return { cmd: stage.cmd ?? '', ...(stage.cmdTemplate !== undefined ? { template: stage.cmdTemplate } : {}) };
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

/** Where a workspace finds deps: in the project, or (a sweep variant) some in its own folder. */
export interface DepLocator {
  absolute(written: string): string;
  /** The folder a glob is expanded from. */
  globRoot(pattern: string): string;
}

/** A dep hashed, with what the stage receives for it in `ctx.deps`: exactly the files that were hashed. */
export interface HashedDep {
  hashed: HashedPath;
  inputs: string[];
}

/** Hash one dep: a file, a folder (manifest), or a glob (manifest of its sorted matches, expanded this once). */
export async function hashDep(dep: Dep, locator: DepLocator, hasher: PathHasher): Promise<HashedDep> {
  // A URL stands for its content: planning never touches the network. Pin versions in the URL, or --force to refetch.
  if (dep.kind === 'url')
    return { hashed: { kind: 'file', hash: sha256(`url\0${dep.written}`), size: 0, mode: 0 }, inputs: [dep.written] };
  if (dep.kind === 'path') {
    const absPath = locator.absolute(dep.written);
    return { hashed: await hasher.hashPath(absPath), inputs: [absPath] };
  }
  const root = locator.globRoot(dep.written);
  const hashed = await hasher.hashFileList(root, await expandGlob(root, dep.written));
  // The manifest, not the glob's matches: a match that vanished before its stat was not hashed, so it is not handed over.
  const inputs = hashed.kind === 'dir' ? hashed.manifest.map((entry) => resolve(root, entry.path)) : [];
  return { hashed, inputs };
}

/**
 * `predicted` gives the content some deps will have rather than what is on disk now
 * (outs an upstream stage is about to get back from the run cache), for planning.
 */
export async function fingerprintStage(
  stage: ResolvedStage,
  root: string,
  locator: DepLocator,
  hasher: PathHasher,
  predicted?: ReadonlyMap<string, HashedPath>,
): Promise<StageFingerprint> {
  const code = await codeFingerprint(stage, root, hasher);
  const deps: DepRecord[] = [];
  const missingDeps: string[] = [];
  const inputs: string[] = [];
  for (const dep of stage.deps) {
    const known = predicted?.get(dep.written);
    const { hashed, inputs: given } = known
      ? { hashed: known, inputs: [locator.absolute(dep.written)] }
      : await hashDep(dep, locator, hasher);
    inputs.push(...given);
    const path = dep.written;
    if (hashed.kind === 'missing') {
      missingDeps.push(path);
      deps.push({ path, hash: MISSING_HASH, size: 0 });
    } else if (hashed.kind === 'file') {
      deps.push({ path, hash: hashed.hash, size: hashed.size });
    } else {
      deps.push({ path, hash: hashed.hash, size: hashed.size, files: hashed.files });
    }
  }
  const hashed = {
    code: 'cmd' in code ? { cmd: code.cmd } : { module: code.module, hash: code.hash },
    params: stage.params,
    deps: deps.map((dep) => [dep.path, dep.hash]),
    outs: stage.outs,
  };
  return {
    hash: sha256(canonicalJson(hashed)),
    code,
    params: stage.params,
    deps,
    inputs,
    outs: [...stage.outs],
    missingDeps,
  };
}
