/** The git commit a run started from, and whether the tree had uncommitted changes. */
import { execFileSync } from 'node:child_process';

export interface GitState {
  commit: string;
  dirty: boolean;
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** undefined outside a git repository (or without git, or before the first commit). */
export function gitState(dir: string): GitState | undefined {
  const commit = git(dir, ['rev-parse', 'HEAD'])?.trim();
  if (!commit) return undefined;
  const status = git(dir, ['status', '--porcelain']) ?? '';
  return { commit, dirty: status.trim() !== '' };
}

/** A file as committed at `rev` (`HEAD`, a branch, a commit), or undefined when it is not in that revision. */
export function fileAtRevision(file: { dir: string; name: string }, rev: string): string | undefined {
  return git(file.dir, ['show', `${rev}:./${file.name}`]);
}
