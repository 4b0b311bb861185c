/**
 * The stage contract: the only thing the engine and a module stage share.
 *
 * A module stage is a TypeScript file whose default export is a `Stage`.
 * The engine runs it in a child process and hands it a `StageContext`.
 * The engine knows nothing of what a stage does; a stage knows nothing of
 * hashing, caching or locks.
 */

/** One progress report; `done`/`total` drive the progress bar, `metrics` are shown beside it. */
export interface Progress {
  done: number;
  total: number;
  /** Free-form numbers worth showing live, e.g. { loss: 0.12, val_loss: 0.09 }. */
  metrics?: Record<string, number>;
  /** A short status line, e.g. "epoch 3/50". */
  message?: string;
}

export interface StageContext {
  /** Stage name as declared in pipeline.yaml. */
  stage: string;
  /** Absolute path of the folder holding pipeline.yaml. Relative paths in params resolve from here. */
  root: string;
  /**
   * Values of the params the stage declares (and those interpolated into its
   * paths), keyed by their dotted name: `ctx.params['train.lr']`. A key naming
   * a subtree (e.g. `augment`) maps to that whole object.
   */
  params: Readonly<Record<string, unknown>>;
  /** Absolute dep paths, in declared order (globs expanded to their matching files, sorted). */
  deps: readonly string[];
  /**
   * Absolute paths to write the outs to, in declared order. They are temporary
   * locations: the engine moves them into place only if `run` resolves.
   */
  outs: readonly string[];
  /**
   * Set only in a shard job of a sharded stage (`shards: N` in pipeline.yaml):
   * do the `index`-th of `count` parts of the work, writing to `outs` as usual.
   * The engine then calls the stage's `merge` with every shard's outs.
   */
  shard?: ShardInfo;
  /**
   * Absolute path of a folder of this stage's own that outlives its runs
   * (`.pipeline/stage-cache/<stage>/`): for work worth keeping between runs,
   * such as per-item results a rerun can reuse. The engine never fingerprints
   * or restores it, so what is in it must not change the stage's outs, only
   * how long they take. `pipeline gc` ages it file by file by mtime: touch a
   * file when a run reuses it. Deleting the folder only costs time.
   */
  cacheDir: string;
  /**
   * The remote cache this run shares with other machines, when it uses one
   * (`remote:` in pipeline.yaml, `--remote`): a place for what `cacheDir`
   * holds that is worth sharing. Absent without a remote. Never fails a
   * stage: an unreachable or refusing remote answers misses and `false`.
   */
  remote?: RemoteBlobs;
  /** Report progress; cheap to call often (the engine throttles rendering). */
  progress(p: Progress): void;
  /** Lines for the stage log (shown live, kept under .pipeline/logs/); plain functions, safe to pass on. */
  log: (message: string) => void;
  warn: (message: string) => void;
  /**
   * Figures about how this run went rather than what it made: seconds taken,
   * images per second, items reused from `cacheDir`. They go to the run record
   * (`.pipeline/runs/<id>.json`, the stage's `figures`), where `pipeline metrics
   * show --runs N --metric <stage>.<name>` shows them; put in the log whatever a
   * reader of the log should see too. Never write such figures into the outs:
   * outs that are a function of the inputs let a forced rerun end "outs
   * unchanged" and leave every downstream stage up to date. Finite numbers
   * only; a later call adds names and replaces earlier values of the same name.
   */
  report(figures: RunFigures): void;
}

/** Named numbers a stage reports about one run of itself (`ctx.report`): `{ seconds: 41.2, imagesPerSecond: 96.3 }`. */
export type RunFigures = Record<string, number>;

/**
 * Immutable blobs on the remote cache. Content is addressed by its sha256;
 * a name (any string, shared by every machine and stage using the remote)
 * points at one content and can be pointed elsewhere by a later `put`.
 * Everything read is checked against its sha256 first: damaged bytes are
 * reported (once, as a warning) and answered as a miss.
 */
export interface RemoteBlobs {
  /** False when read-only or the remote stopped answering: `put*` would do nothing. */
  readonly writable: boolean;
  /** Stores bytes under their sha256 (returned); undefined when they could not be stored. */
  putBlob(data: Uint8Array): Promise<string | undefined>;
  /** The bytes whose sha256 is `hash`, checked; undefined on a miss. */
  getBlob(hash: string): Promise<Uint8Array | undefined>;
  /** Stores bytes and points `name` at them; false when that could not be done. */
  put(name: string, data: Uint8Array): Promise<boolean>;
  /** The bytes `name` points at, checked; undefined on a miss. */
  get(name: string): Promise<Uint8Array | undefined>;
}

export interface ShardInfo {
  /** 0-based. */
  index: number;
  count: number;
}

export interface Stage {
  /** Resolve on success; throw (or reject) to fail the stage. */
  run(ctx: StageContext): Promise<void>;
  /**
   * Required for `shards:` > 1. Runs after every shard succeeded, with no
   * `ctx.shard`: write into `ctx.outs` the outs the unsharded stage would have
   * made, from `shardOuts[i][j]` (out j of shard i, shards in index order).
   */
  merge?(ctx: StageContext, shardOuts: readonly (readonly string[])[]): Promise<void>;
}

/** Identity helper so stage files get type checking: `export default defineStage({ async run(ctx) {…} })`. */
export function defineStage(stage: Stage): Stage {
  return stage;
}

/**
 * A failure caused by the stage's input (a bad param value, a missing file, an
 * unreadable folder), not by a bug: the engine shows its message as one line
 * with the log path, no stack trace (unless `--verbose`). Throw it, or a
 * subclass, from `run`. Recognised by its `userError` mark, so a copy of this
 * class works too.
 */
export class StageUserError extends Error {
  readonly userError = true;
  constructor(message: string) {
    super(message);
    this.name = 'StageUserError';
  }
}

/** True for a StageUserError, and for a file-system error about a path (missing file, unreadable folder). */
export function isUserError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  if ((error as { userError?: unknown }).userError === true) return true;
  const { code, path } = error as NodeJS.ErrnoException;
  return typeof path === 'string' && ['ENOENT', 'EACCES', 'ENOTDIR', 'EISDIR', 'EPERM'].includes(code ?? '');
}

/*
 * Param rules. A module stage `stages/train.ts` may declare the rules of the
 * params it reads in a sibling `stages/train.params.ts` whose default export is
 * `defineParams({ 'train.lr': param.number({ gt: 0, description: '…' }), … })`.
 * The engine imports only that file (never the stage) and checks every value
 * before any stage runs; the stage reads its values through the same rules.
 */
export { checkParam, defineParams, param, type ParamCheck, type ParamRule, type ParamRules } from './param-rules.ts';
