import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crashPoint } from './crash-points.ts';

/** Unique sibling temp name: same folder, so the rename is atomic (same filesystem). */
export function tempNameFor(file: string): string {
  return `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Remove the temp files (see tempNameFor) in `dir` whose name starts with `prefix` and whose process is gone: left
 * by a kill between writing and renaming. Call only where no other run is writing (under the run lock).
 */
export function removeDeadTemps(dir: string, prefix = ''): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    /* no folder: nothing left */
  }
  for (const name of names) {
    const pid = /\.tmp-(\d+)-[a-z0-9]+$/.exec(name)?.[1];
    if (name.startsWith(prefix) && pid !== undefined && !processAlive(Number(pid)))
      rmSync(join(dir, name), { force: true });
  }
}

/** Whether a process of this machine with that PID exists (one of another user's counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface AtomicWriteOptions {
  /**
   * Also survive a power loss: the content is flushed to disk before the rename, and the folder's entry after it.
   * Without it a kill of the process still leaves the old content or the new one, never a torn file.
   */
  durable?: boolean;
}

/** Flush a folder's entries (a rename, a new or removed name) to disk. */
export function fsyncFolder(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // a platform where folders cannot be opened: nothing to flush with
  }
  try {
    fsyncSync(fd);
  } catch (error) {
    // Some filesystems do not flush folders (EINVAL); their entries are as durable as they get.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
  } finally {
    closeSync(fd);
  }
}

/** Readers see either the old content or the new one, never a torn file. */
export function writeFileAtomicSync(file: string, content: string, options: AtomicWriteOptions = {}): void {
  const temp = tempNameFor(file);
  try {
    const fd = openSync(temp, 'w');
    try {
      writeFileSync(fd, content);
      if (options.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    crashPoint(`${basename(file)}: temp written`);
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      /* temp never created */
    }
    throw error;
  }
  if (options.durable) fsyncFolder(dirname(file));
}

export async function writeFileAtomic(file: string, content: string, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = tempNameFor(file);
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(content);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    crashPoint(`${basename(file)}: temp written`);
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (options.durable) fsyncFolder(dirname(file));
}
