import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncFolder, writeFileAtomicSync } from '../atomic-write.ts';
import { killLeftoverGroup, killLeftoverStage, readStageGroup } from './stage-group-record.ts';
import { crashPoint } from '../crash-points.ts';

/** Where each moved-aside out went, written (atomically, durably) before the first move. */
const JOURNAL = 'journal.json';
/** Written in place of the journal when the new outs are recorded: from then on the backups are only garbage. */
const COMMITTED = 'committed';
const BACKUP_PREFIX = 'backup-';

interface Move {
  out: string;
  backup: string;
}

/** What a killed run's stage folder left to do, read back by `recoverInterrupted`. */
type Leftover =
  | { kind: 'nothing' } // no outs were moved aside, or the transaction was committed: the folder is garbage
  | { kind: 'restore'; moves: Move[] }
  | { kind: 'unreadable'; backups: string[] }; // backups without a journal saying where they belong

/**
 * Makes replacing a stage's outs all-or-nothing. Old outs are moved aside
 * (same filesystem, so renames) after a journal recording where has reached
 * the disk; on failure they are moved back, on success a commit marker
 * replaces the journal and they are deleted. A journal left behind by a killed
 * run is replayed by `recoverInterrupted` before the next run.
 *
 * Crash windows, and what the next run finds:
 *   - before or while the journal is written: no journal (or the previous, whole one), no out moved yet;
 *   - between the journal and the end of the moves or the install: the journal; backups go back;
 *   - between the lock entry and the commit marker: the journal; the old outs go back and the next run
 *     sees them differ from the lock, so it restores the new ones from the run cache or runs the stage;
 *   - after the marker: the backups are garbage, deleted before the marker itself.
 * Backups whose journal cannot be read are never deleted: the folder stays and every run says so.
 */
export class OutTransaction {
  private readonly moved: Move[] = [];
  private readonly journal: string;
  /** Set once the out paths were handed over (to a command, or to an install); before that rollback leaves them alone. */
  private outsTouched = false;

  constructor(
    private readonly workDir: string,
    private readonly outs: readonly string[],
  ) {
    this.journal = join(workDir, JOURNAL);
    mkdirSync(workDir, { recursive: true });
  }

  /** Move every existing out into the work folder; parents of the outs are created so the stage can write. */
  moveAsideExisting(): void {
    this.outsTouched = true;
    const moves = this.outs.flatMap((out, i): Move[] => {
      mkdirSync(dirname(out), { recursive: true });
      return exists(out) ? [{ out, backup: join(this.workDir, `${BACKUP_PREFIX}${i}`) }] : [];
    });
    if (moves.length === 0) return;
    // On disk before any move: a kill at any later moment finds every backup in it.
    writeFileAtomicSync(this.journal, JSON.stringify([...this.moved, ...moves]), { durable: true });
    for (const move of moves) {
      crashPoint('outs: moving aside');
      this.moved.push(move);
      renameSync(move.out, move.backup);
    }
  }

  /** Put freshly made outs (module stages, run-cache restores) in place of the old ones. */
  install(fresh: readonly string[]): void {
    this.moveAsideExisting();
    fresh.forEach((source, i) => {
      crashPoint('outs: installing');
      renameSync(source, this.outs[i]);
    });
  }

  /** Undo: drop whatever the failed stage left at the out paths and bring the old outs back. */
  rollback(): void {
    if (this.outsTouched) for (const out of this.outs) rmSync(out, { recursive: true, force: true });
    for (const { out, backup } of this.moved) {
      if (exists(backup)) renameSync(backup, out);
    }
    this.moved.length = 0;
    // Every backup is back in place: the journal can go with the folder.
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Success (the new outs are recorded): mark the transaction committed, so no recovery resurrects old outs, then delete them. */
  async commit(): Promise<void> {
    if (this.moved.length > 0) {
      crashPoint('commit: before the marker');
      renameSync(this.journal, join(this.workDir, COMMITTED));
      fsyncFolder(this.workDir);
      // The backups go before the marker: a folder with backups and no marker or journal is never garbage.
      for (const { backup } of this.moved) {
        crashPoint('commit: deleting backups');
        await rm(backup, { recursive: true, force: true });
      }
    }
    crashPoint('commit: removing the work folder');
    this.moved.length = 0;
    await rm(this.workDir, { recursive: true, force: true });
  }

  /** What a stage folder of a killed run holds. */
  private static leftover(stageDir: string): Leftover {
    if (existsSync(join(stageDir, COMMITTED))) return { kind: 'nothing' };
    let entries: string[] = [];
    try {
      entries = readdirSync(stageDir);
    } catch {
      /* not a folder */
    }
    const backups = entries.filter((name) => name.startsWith(BACKUP_PREFIX)).sort();
    try {
      const moves = JSON.parse(readFileSync(join(stageDir, JOURNAL), 'utf8')) as unknown;
      if (Array.isArray(moves) && moves.every(isMove)) return { kind: 'restore', moves };
    } catch {
      /* no journal, or an unreadable one: the backups decide */
    }
    return backups.length === 0 ? { kind: 'nothing' } : { kind: 'unreadable', backups };
  }

  /**
   * Clean up after runs that were killed outright (SIGKILL, power loss): stop
   * their stages' leftover processes, then replay their journals to restore
   * the backed-up outs. A run folder is deleted only once nothing in it is
   * needed; one holding backups without a readable journal is kept and listed
   * in `kept`. Call only while holding the run lock.
   */
  static recoverInterrupted(tmpRoot: string): {
    restored: string[];
    stopped: { stage: string; pids: number[] }[];
    kept: { dir: string; backups: string[] }[];
  } {
    const restored: string[] = [];
    const stopped: { stage: string; pids: number[] }[] = [];
    const kept: { dir: string; backups: string[] }[] = [];
    let runs: string[];
    try {
      runs = readdirSync(tmpRoot);
    } catch {
      return { restored, stopped, kept };
    }
    for (const run of runs) {
      const runDir = join(tmpRoot, run);
      let stageDirs: string[] = [];
      try {
        stageDirs = readdirSync(runDir);
      } catch {
        /* not a folder */
      }
      let keep = false;
      for (const stage of stageDirs) {
        const stageDir = join(runDir, stage);
        const group = readStageGroup(stageDir);
        // No record: the run was killed between starting the stage and recording it; the run id finds it then.
        const pids = group ? killLeftoverGroup(group) : killLeftoverStage(run, stage);
        if (pids.length > 0) stopped.push({ stage, pids });
        const left = OutTransaction.leftover(stageDir);
        if (left.kind === 'unreadable') {
          keep = true;
          kept.push({ dir: stageDir, backups: left.backups });
          continue;
        }
        if (left.kind !== 'restore') continue;
        for (const { out, backup } of left.moves) {
          if (!exists(backup)) continue; // never moved, or put back by an earlier recovery
          rmSync(out, { recursive: true, force: true });
          crashPoint('recovery: putting an out back');
          mkdirSync(dirname(out), { recursive: true });
          renameSync(backup, out);
          restored.push(out);
        }
      }
      if (!keep) rmSync(runDir, { recursive: true, force: true });
    }
    return { restored, stopped, kept };
  }
}

/** Whether anything is at the path (a dangling symlink out counts: it is moved and put back like any out). */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A journal entry as written by OutTransaction: an out and where it was moved aside. */
function isMove(value: unknown): value is Move {
  const m = value as Partial<Move> | null;
  return typeof m === 'object' && m !== null && typeof m.out === 'string' && typeof m.backup === 'string';
}
