import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Each running stage leaves `process.json` (its process group and run id) in
 * its work folder. When a run is killed outright (SIGKILL), its stages keep
 * running in their own process groups; the next run finds these records and
 * stops the leftovers before it puts the old outs back, so an orphan cannot
 * write into outs (or compete for the CPU) after the fact.
 */
export interface StageGroupRecord {
  pgid: number;
  runId: string;
}

const RECORD = 'process.json';

export function writeStageGroup(workDir: string, record: StageGroupRecord): void {
  writeFileSync(join(workDir, RECORD), JSON.stringify(record));
}

export function readStageGroup(workDir: string): StageGroupRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(join(workDir, RECORD), 'utf8')) as Partial<StageGroupRecord>;
    return typeof record.pgid === 'number' && record.pgid > 1 && typeof record.runId === 'string'
      ? (record as StageGroupRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Kill what is left of a stage's process group. Only processes proven to
 * belong to that run are counted (same group and `PIPELINE_RUN_ID` in their
 * environment, read from /proc), so a reused PID is never hit. Where /proc is
 * not available nothing is killed. Returns the PIDs that were found.
 */
export function killLeftoverGroup(record: StageGroupRecord, procDir = '/proc'): number[] {
  const marker = `PIPELINE_RUN_ID=${record.runId}`;
  return killLeftovers(procDir, (pgrp, environ) => pgrp === record.pgid && environ.includes(marker));
}

/**
 * A stage whose run was killed before it recorded the process group (the
 * child was already running, the engine not yet past writing process.json):
 * its processes are found by their environment alone, the run's id and the
 * stage's name, and their groups are stopped.
 */
export function killLeftoverStage(runId: string, stage: string, procDir = '/proc'): number[] {
  const markers = [`PIPELINE_RUN_ID=${runId}`, `PIPELINE_STAGE=${stage}`];
  return killLeftovers(procDir, (_pgrp, environ) => markers.every((marker) => environ.includes(marker)));
}

function killLeftovers(procDir: string, belongs: (pgrp: number, environ: string[]) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return [];
  }
  const members: number[] = [];
  const groups = new Set<number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(join(procDir, entry, 'stat'), 'utf8');
      // Fields after the command name (which may hold spaces and parentheses): state ppid pgrp …
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      const environ = readFileSync(join(procDir, entry, 'environ'), 'utf8').split('\0');
      if (!belongs(pgrp, environ)) continue;
      members.push(Number(entry));
      groups.add(pgrp);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  for (const pgrp of groups) {
    try {
      // Stages run in their own groups; never signal the group this process is in.
      if (pgrp > 1 && pgrp !== process.pid) process.kill(-pgrp, 'SIGKILL');
    } catch {
      // the group is gone; the members are killed one by one below
    }
  }
  for (const pid of members) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (members.length > 0) waitUntilGone(members, procDir);
  return members;
}

/** SIGKILL lands at once, but give the kernel a moment (at most 2 s) before the outs are touched. */
function waitUntilGone(pids: number[], procDir: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < 2000; waited += 10) {
    const alive = pids.some((pid) => {
      try {
        const stat = readFileSync(join(procDir, String(pid), 'stat'), 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
      } catch {
        return false;
      }
    });
    if (!alive) return;
    Atomics.wait(pause, 0, 0, 10);
  }
}
