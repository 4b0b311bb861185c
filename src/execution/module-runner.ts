/**
 * Child-process entry for `module:` stages:
 *   node --import tsx module-runner.ts <spec.json>
 * Imports the stage module, builds its StageContext and runs it. Progress
 * goes to the parent over IPC; log lines go to stdout/stderr (captured to the
 * stage log). Success is exit status 0 *and* the `doneFile` written once
 * `run` resolved: a stage that calls process.exit(0) halfway has not finished.
 *
 * Changing this file or src/contract.ts changes every module stage's
 * fingerprint, so stages rerun under a new contract.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Progress, Stage, StageContext } from '../contract.ts';

export interface ModuleRunSpec {
  stage: string;
  root: string;
  /** Absolute path of the stage module. */
  module: string;
  /** As written in pipeline.yaml, for messages. */
  moduleLabel: string;
  params: Record<string, unknown>;
  deps: string[];
  outs: string[];
  /** The stage's persistent cache folder (`ctx.cacheDir`). */
  cacheDir: string;
  /** Written (empty) after `run` resolved, just before exiting 0. */
  doneFile: string;
}

/** Progress messages are sent at most this often; the last one always goes out. */
const PROGRESS_INTERVAL_MS = 100;

function progressSender(): { send(p: Progress): void; flush(): Promise<void> } {
  let pending: Progress | undefined;
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    last = Date.now();
    const message = pending;
    pending = undefined;
    if (!message || !process.send) return Promise.resolve();
    return new Promise((resolve) => process.send!({ type: 'progress', progress: message }, undefined, {}, () => resolve()));
  };
  return {
    send(p) {
      pending = { ...p };
      const wait = PROGRESS_INTERVAL_MS - (Date.now() - last);
      if (wait <= 0) void flush();
      else if (!timer) timer = setTimeout(() => void flush(), wait);
    },
    flush,
  };
}

let settled = false;

async function main(): Promise<number> {
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as ModuleRunSpec;
  process.on('exit', () => {
    if (settled) return;
    process.stderr.write(`stage ${spec.stage}: the process ended before run() finished (process.exit() called, an uncaught error, or a promise that can never settle)\n`);
  });
  // The engine is gone (killed outright): nobody will take this stage's outs, so stop it and whatever it started.
  process.on('disconnect', () => {
    try { process.kill(-process.pid, 'SIGKILL'); } catch { process.exit(1); }
  });
  process.channel?.unref(); // listening must not keep the process alive: a never-settling run() should still end (exit 13)
  const loaded = (await import(pathToFileURL(spec.module).href)) as { default?: Partial<Stage> & { default?: Partial<Stage> } };
  // A module compiled as CommonJS (no "type": "module" above it) arrives wrapped once more.
  const stage = typeof loaded.default?.run === 'function' ? loaded.default : (loaded.default?.default ?? loaded.default);
  if (!stage || typeof stage.run !== 'function') {
    process.stderr.write(
      `${spec.moduleLabel}: the default export must be a Stage ({ async run(ctx) {…} }, see src/contract.ts); got ${stage === undefined ? 'no default export' : typeof stage}\n`,
    );
    return 2;
  }
  const progress = progressSender();
  const ctx: StageContext = {
    stage: spec.stage,
    root: spec.root,
    params: Object.freeze({ ...spec.params }),
    deps: Object.freeze([...spec.deps]),
    outs: Object.freeze([...spec.outs]),
    cacheDir: spec.cacheDir,
    progress: (p) => progress.send(p),
    log: (message) => void process.stdout.write(`${message}\n`),
    warn: (message) => void process.stderr.write(`warning: ${message}\n`),
  };
  try {
    await stage.run.call(stage, ctx);
  } catch (error) {
    settled = true;
    await progress.flush();
    process.stderr.write(`stage ${spec.stage} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
  settled = true;
  await progress.flush();
  writeFileSync(spec.doneFile, '');
  return 0;
}

const code = await main();
// Exit explicitly: a stage may leave timers or handles open (thread pools, backends).
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
