/**
 * Child-process entry for `module:` stages:
 *   node --import tsx module-runner.ts <spec.json>
 * Imports the stage module, builds its StageContext and runs it (or, for a
 * sharded stage, one shard of it, or its merge). Progress goes to the parent
 * over IPC, or where there is no IPC channel (a cluster job) into
 * `progressFile`, which the engine polls; log lines go to stdout/stderr
 * (captured to the stage log). Success is exit status 0 *and* the `doneFile` written once
 * `run` resolved: a stage that calls process.exit(0) halfway has not finished. The
 * `doneFile` holds the figures the stage reported (`ctx.report`) as JSON; being a
 * file, it reaches the engine from a cluster job as well as from a local child.
 *
 * Changing this file or src/contract.ts changes every module stage's
 * fingerprint, so stages rerun under a new contract.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  isUserError,
  type Progress,
  type RunFigures,
  type ShardInfo,
  type Stage,
  type StageContext,
} from '../contract.ts';
import { RemoteBlobStore } from '../cache/remote-blobs.ts';
import { RemoteStore } from '../cache/remote-store.ts';
import type { RemoteSettings } from '../config/remote.ts';
import { EXIT_NOT_A_STAGE, EXIT_STAGE_FAILED } from '../exit-codes.ts';

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
  /** Written after `run` resolved, just before exiting 0: a `ModuleDone` as JSON. */
  doneFile: string;
  /** Written when `run` threw a user error: `{ "message": … }`, the one line the terminal shows (a cluster job has no IPC to say it). */
  resultFile: string;
  /** Where progress goes when there is no IPC channel (the stage runs as a cluster job). */
  progressFile?: string;
  /** The remote cache's settings (`ctx.remote`), when the run uses one. */
  remote?: RemoteSettings;
  /** This process runs one shard of a sharded stage. */
  shard?: ShardInfo;
  /** This process runs the stage's `merge` over these shard outs (out j of shard i). */
  mergeShardOuts?: string[][];
}

/** What `doneFile` holds. */
export interface ModuleDone {
  figures: RunFigures;
}

/** Without IPC, progress is written to a file the engine reads at each poll: no point writing it more often. */
const PROGRESS_FILE_INTERVAL_MS = 1000;

/** Progress messages are sent at most this often; the last one always goes out. */
const PROGRESS_INTERVAL_MS = 100;

function progressSender(progressFile: string | undefined): { send(p: Progress): void; flush(): Promise<void> } {
  let pending: Progress | undefined;
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const toFile = !process.send && progressFile !== undefined;
  const interval = toFile ? PROGRESS_FILE_INTERVAL_MS : PROGRESS_INTERVAL_MS;
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    last = Date.now();
    const message = pending;
    pending = undefined;
    if (message && toFile) {
      // Temp file + rename: the engine never reads half a message.
      writeFileSync(`${progressFile}.tmp`, JSON.stringify(message));
      renameSync(`${progressFile}.tmp`, progressFile);
    }
    if (!message || !process.send) return Promise.resolve();
    return new Promise((resolve) =>
      process.send!({ type: 'progress', progress: message }, undefined, {}, () => resolve()),
    );
  };
  return {
    send(p) {
      pending = { ...p };
      const wait = interval - (Date.now() - last);
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
    process.stderr.write(
      `stage ${spec.stage}: the process ended before run() finished (process.exit() called, an uncaught error, or a promise that can never settle)\n`,
    );
  });
  // The engine is gone (killed outright): nobody will take this stage's outs, so stop it and whatever it started.
  process.on('disconnect', () => {
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      process.exit(1);
    }
  });
  process.channel?.unref(); // listening must not keep the process alive: a never-settling run() should still end (EXIT_NEVER_SETTLED)
  const loaded = (await import(pathToFileURL(spec.module).href)) as {
    default?: Partial<Stage> & { default?: Partial<Stage> };
  };
  // A module compiled as CommonJS (no "type": "module" above it) arrives wrapped once more.
  const stage =
    typeof loaded.default?.run === 'function' ? loaded.default : (loaded.default?.default ?? loaded.default);
  if (!stage || typeof stage.run !== 'function') {
    process.stderr.write(
      `${spec.moduleLabel}: the default export must be a Stage ({ async run(ctx) {…} }, see src/contract.ts); got ${stage === undefined ? 'no default export' : typeof stage}\n`,
    );
    return EXIT_NOT_A_STAGE;
  }
  if (spec.mergeShardOuts && typeof stage.merge !== 'function') {
    process.stderr.write(
      `${spec.moduleLabel}: a stage with shards must export merge(ctx, shardOuts) (see src/contract.ts)\n`,
    );
    return EXIT_NOT_A_STAGE;
  }
  const progress = progressSender(spec.progressFile);
  const figures: RunFigures = {};
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
    report: (values) => {
      for (const [name, value] of Object.entries(values)) {
        // A bug in the stage, caught where it is made rather than as a null in the run record.
        if (typeof value !== 'number' || !Number.isFinite(value))
          throw new TypeError(`ctx.report: figure "${name}" must be a finite number, got ${String(value)}`);
        figures[name] = value;
      }
    },
  };
  if (spec.shard) ctx.shard = Object.freeze({ ...spec.shard });
  if (spec.remote) ctx.remote = new RemoteBlobStore(new RemoteStore(spec.remote, ctx.warn));
  try {
    if (spec.mergeShardOuts) await stage.merge!.call(stage, ctx, spec.mergeShardOuts);
    else await stage.run.call(stage, ctx);
  } catch (error) {
    settled = true;
    await progress.flush();
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    // A user error (bad value, missing file) is one line on the terminal; its stack goes to the log only (the
    // engine writes it there). A bug, or --verbose, shows the stack on the terminal.
    const verbose = process.env.PIPELINE_VERBOSE === '1';
    if (isUserError(error)) {
      // Temp file + rename: the engine never reads half a message.
      writeFileSync(`${spec.resultFile}.tmp`, JSON.stringify({ message: error.message }));
      renameSync(`${spec.resultFile}.tmp`, spec.resultFile);
    }
    if (isUserError(error) && process.send) {
      const message = { type: 'user-error', message: error.message, ...(verbose ? {} : { detail }) };
      await new Promise((resolve) => process.send!(message, undefined, {}, resolve));
    }
    if (!isUserError(error) || verbose || !process.send)
      process.stderr.write(`stage ${spec.stage} failed: ${detail}\n`);
    return EXIT_STAGE_FAILED;
  }
  settled = true;
  await progress.flush();
  writeFileSync(spec.doneFile, JSON.stringify({ figures } satisfies ModuleDone));
  return 0;
}

const code = await main();
// Exit explicitly: a stage may leave timers or handles open (thread pools, backends).
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
