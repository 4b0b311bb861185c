/**
 * Stage gates: steps of a test's stages that the test controls, so tests assert on order, concurrency and
 * kills through files instead of racing the clock. A gated step records that it started (`NAME.started`: its
 * PID and its parent's; `start NAME` in `events`), then waits until a file appears: `NAME.release`, which the
 * test creates, or another gate's `.started` (two stages that each wait for the other prove they overlap).
 * Every wait is bounded, so a broken engine or test fails with a message instead of hanging.
 *
 * `cmd:` stages run `stage-gate.sh` (via `gates.cmd(…)`); `module:` stages import this file by its absolute
 * path and `await gate(dir, name)`, which waits without blocking the event loop.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How long any gate or test waits before it gives up, in seconds: a failsafe far beyond any real wait. */
export const GATE_LIMIT_S = 120;
const GATE_SH = fileURLToPath(new URL('./stage-gate.sh', import.meta.url));
/** This module's absolute path, for a fixture module stage's `import { gate } from …`. */
export const GATE_MODULE = fileURLToPath(import.meta.url);

// Quoted only where needed: a `cmd:` that starts with a quote would read as a quoted YAML scalar.
const quote = (text: string): string => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait (polling, bounded) until `path` exists. */
async function waitForFile(path: string, what: string, limitS = GATE_LIMIT_S): Promise<void> {
  for (let polls = 0; !existsSync(path); polls++) {
    if (polls > limitS * 50) throw new Error(`waited ${limitS} s for ${what} (${path}); giving up`);
    await pause(20);
  }
}

/** The gate itself, for module stages: record the start, wait for `until` (default `NAME.release`) in `dir`. */
export async function gate(dir: string, name: string, until = `${name}.release`): Promise<void> {
  appendFileSync(join(dir, 'events'), `start ${name}\n`);
  writeFileSync(join(dir, `${name}.started.tmp`), `${process.pid} ${process.ppid}\n`);
  renameSync(join(dir, `${name}.started.tmp`), join(dir, `${name}.started`));
  await waitForFile(join(dir, until), `gate ${name} to be released`);
  appendFileSync(join(dir, 'events'), `end ${name}\n`);
}

/** The test's side: a folder of gates. */
export class StageGates {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** The gate as a command line (for a process the test starts itself); with `until`, it waits for that other gate to start instead of a release. */
  argv(name: string, options: { until?: string; limitS?: number } = {}): string[] {
    const until = options.until === undefined ? `${name}.release` : `${options.until}.started`;
    return ['sh', GATE_SH, this.dir, name, until, String(options.limitS ?? GATE_LIMIT_S)];
  }

  /** The gate as a shell step of a `cmd:` stage. */
  cmd(name: string, options: { until?: string; limitS?: number } = {}): string {
    return this.argv(name, options).map(quote).join(' ');
  }

  started(name: string): boolean {
    return existsSync(join(this.dir, `${name}.started`));
  }

  waitStarted(name: string): Promise<void> {
    return waitForFile(join(this.dir, `${name}.started`), `stage gate ${name} to start`);
  }

  /** The gate's process and its parent (for a `cmd:` stage, the stage's shell). */
  pids(name: string): number[] {
    return readFileSync(join(this.dir, `${name}.started`), 'utf8')
      .trim()
      .split(' ')
      .map(Number);
  }

  release(name: string): void {
    writeFileSync(join(this.dir, `${name}.release`), '');
  }

  /** `start NAME` / `end NAME` lines, in the order the gates wrote them. */
  events(): string[] {
    const file = join(this.dir, 'events');
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }
}

/**
 * Whether a process still runs. A zombie counts as ended: an orphan's zombie may never be reaped where PID 1
 * does not reap (containers). Reads /proc where there is one, else asks the kernel (kill 0).
 */
export function isRunning(pid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
