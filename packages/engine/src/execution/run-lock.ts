import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { processAlive, removeDeadTemps, tempNameFor } from '../atomic-write.ts';
import { crashPoint } from '../crash-points.ts';
import { PipelineError } from '../errors.ts';

/**
 * `.pipeline/run.lock`: one run per pipeline at a time. Created with O_EXCL so
 * two runs starting together cannot both win. A lock whose process is gone
 * (same host, dead PID) is cleared automatically.
 */
export interface RunLockHolder {
  pid: number;
  hostname: string;
  started: string;
}

/** The error a second run (or gc) gets while a run holds the lock: reason `locked`. */
function busy(lockFile: string, holder: RunLockHolder | undefined): PipelineError {
  return new PipelineError(
    'locked',
    holder
      ? `another pipeline run is in progress: PID ${holder.pid} on ${holder.hostname}, started ${holder.started}.\n` +
          `Wait for it to finish${holder.hostname === hostname() ? '' : `; if that host's run is gone, delete ${lockFile}`}.`
      : `another pipeline run holds ${lockFile} (unreadable lock file, just created); try again in a few seconds: a lock still unreadable then is cleared.`,
  );
}

/** How long an unreadable (empty, torn) lock file is respected before it counts as stale. */
const UNREADABLE_LOCK_GRACE_MS = 5000;

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return Infinity; // gone already
  }
}

function readHolder(lockFile: string): RunLockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(lockFile, 'utf8')) as RunLockHolder;
    return typeof holder.pid === 'number' && typeof holder.hostname === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** The run holding the lock right now, if any (a stale lock from a dead process on this host does not count). */
export function activeRun(lockFile: string): RunLockHolder | undefined {
  const holder = readHolder(lockFile);
  if (!holder) return undefined;
  return holder.hostname !== hostname() || processAlive(holder.pid) ? holder : undefined;
}

/**
 * Create `file` holding `content`, or return false when it exists. The content is written to a temp file first
 * and hard-linked into place (link fails when the name exists, like O_EXCL), so a run killed at any moment never
 * leaves an empty lock that others must wait out. Where hard links are not supported: O_EXCL, then write.
 */
function createWithContent(file: string, content: string): boolean {
  const temp = tempNameFor(file);
  writeFileSync(temp, content);
  try {
    crashPoint('run lock: temp written');
    linkSync(temp, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
  }
  try {
    const fd = openSync(file, 'wx');
    writeSync(fd, content);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

export class RunLock {
  private released = false;

  private constructor(readonly file: string) {}

  /** Take the lock or throw a PipelineError with reason `locked`. `notice` hears about a stale lock being cleared. */
  static acquire(file: string, notice: (message: string) => void): RunLock {
    mkdirSync(dirname(file), { recursive: true });
    const me: RunLockHolder = { pid: process.pid, hostname: hostname(), started: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (createWithContent(file, JSON.stringify(me) + '\n')) {
        removeDeadTemps(dirname(file), `${basename(file)}.tmp-`);
        return new RunLock(file);
      }
      const holder = readHolder(file);
      if (!holder) {
        // A run writes its lock right after creating it; one still unreadable after a while was left by a run killed in between.
        if (ageMs(file) < UNREADABLE_LOCK_GRACE_MS) throw busy(file, undefined);
        notice(`cleared an unreadable run lock ${file} (left by a run killed while taking it)`);
      } else if (holder.hostname !== me.hostname || processAlive(holder.pid)) {
        throw busy(file, holder);
      } else
        notice(`cleared a stale run lock left by PID ${holder.pid} (started ${holder.started}; that process is gone)`);
      try {
        unlinkSync(file);
      } catch {
        /* someone else cleared it first */
      }
    }
    throw busy(file, readHolder(file));
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      unlinkSync(this.file);
    } catch {
      /* already gone */
    }
  }
}
