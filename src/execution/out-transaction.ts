import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { killLeftoverGroup, killLeftoverStage, readStageGroup } from './stage-group-record.ts';

/**
 * Makes replacing a stage's outs all-or-nothing. Old outs are moved aside
 * (same filesystem, so renames) and a journal records where; on failure they
 * are moved back, on success they are deleted. A journal left behind by a
 * killed run is replayed by `recoverInterrupted` before the next run.
 */
export class OutTransaction {
  private readonly moved: { out: string; backup: string }[] = [];
  private readonly journal: string;
  /** Set once the out paths were handed over (to a command, or to an install); before that rollback leaves them alone. */
  private outsTouched = false;

  constructor(private readonly workDir: string, private readonly outs: readonly string[]) {
    this.journal = join(workDir, 'journal.json');
    mkdirSync(workDir, { recursive: true });
  }

  /** Move every existing out into the work folder; parents of the outs are created so the stage can write. */
  moveAsideExisting(): void {
    this.outsTouched = true;
    this.outs.forEach((out, i) => {
      mkdirSync(dirname(out), { recursive: true });
      if (!existsSync(out)) return;
      const backup = join(this.workDir, `backup-${i}`);
      this.moved.push({ out, backup });
      writeFileSync(this.journal, JSON.stringify(this.moved));
      renameSync(out, backup);
    });
  }

  /** Put freshly made outs (module stages, run-cache restores) in place of the old ones. */
  install(fresh: readonly string[]): void {
    this.moveAsideExisting();
    fresh.forEach((source, i) => renameSync(source, this.outs[i]));
  }

  /** Undo: drop whatever the failed stage left at the out paths and bring the old outs back. */
  rollback(): void {
    if (this.outsTouched) for (const out of this.outs) rmSync(out, { recursive: true, force: true });
    for (const { out, backup } of this.moved) {
      if (existsSync(backup)) renameSync(backup, out);
    }
    this.moved.length = 0;
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Success: forget the journal first (so no recovery resurrects old outs), then delete the old outs. */
  async commit(): Promise<void> {
    try { unlinkSync(this.journal); } catch { /* nothing was moved */ }
    this.moved.length = 0;
    await rm(this.workDir, { recursive: true, force: true });
  }

  /**
   * Clean up after runs that were killed outright (SIGKILL, power loss): stop
   * their stages' leftover processes, then replay their journals to restore
   * the backed-up outs. Call only while holding the run lock.
   */
  static recoverInterrupted(tmpRoot: string): { restored: string[]; stopped: { stage: string; pids: number[] }[] } {
    const restored: string[] = [];
    const stopped: { stage: string; pids: number[] }[] = [];
    let runs: string[];
    try {
      runs = readdirSync(tmpRoot);
    } catch {
      return { restored, stopped };
    }
    for (const run of runs) {
      const runDir = join(tmpRoot, run);
      let stageDirs: string[] = [];
      try { stageDirs = readdirSync(runDir); } catch { /* not a folder */ }
      for (const stage of stageDirs) {
        const group = readStageGroup(join(runDir, stage));
        // No record: the run was killed between starting the stage and recording it; the run id finds it then.
        const pids = group ? killLeftoverGroup(group) : killLeftoverStage(run, stage);
        if (pids.length > 0) stopped.push({ stage, pids });
        let moved: { out: string; backup: string }[];
        try {
          moved = JSON.parse(readFileSync(join(runDir, stage, 'journal.json'), 'utf8')) as typeof moved;
        } catch {
          continue;
        }
        for (const { out, backup } of moved) {
          if (!existsSync(backup)) continue;
          rmSync(out, { recursive: true, force: true });
          renameSync(backup, out);
          restored.push(out);
        }
      }
      rmSync(runDir, { recursive: true, force: true });
    }
    return { restored, stopped };
  }
}
