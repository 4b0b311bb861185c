/** The git commit a run started from, and whether the tree had uncommitted changes. */
import { execFile, execFileSync } from 'node:child_process';

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

/**
 * The commit and dirtiness, undefined outside a git repository (or without git, or before the first commit). A run or
 * sweep starts it first thing, without blocking, so that git's work (a `status` over a big tree can take longer than a
 * whole no-op run) overlaps the engine's, and the record says what the run started from. `--no-optional-locks`: a
 * stage that runs git meanwhile never meets git's index lock.
 */
export async function gitStateInBackground(dir: string): Promise<GitState | undefined> {
  const git = (args: string[]) =>
    new Promise<string | undefined>((resolve) =>
      execFile('git', args, { cwd: dir, encoding: 'utf8' }, (error, stdout) => resolve(error ? undefined : stdout)),
    );
  const [commit, status] = await Promise.all([
    git(['rev-parse', 'HEAD']),
    git(['--no-optional-locks', 'status', '--porcelain']),
  ]);
  if (!commit?.trim()) return undefined;
  return { commit: commit.trim(), dirty: (status ?? '').trim() !== '' };
}

/** A file as committed at `rev` (`HEAD`, a branch, a commit), or undefined when it is not in that revision. */
export function fileAtRevision(file: { dir: string; name: string }, rev: string): string | undefined {
  return git(file.dir, ['show', `${rev}:./${file.name}`]);
}
