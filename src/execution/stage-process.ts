import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Progress } from '../contract.ts';
import { packageFile } from '../package-files.ts';
import type { StageResources } from '../config/pipeline.ts';
import type { Executor, StageJob } from './executors/executor.ts';
import type { ModuleRunSpec } from './module-runner.ts';
import { EXIT_NEVER_SETTLED, EXIT_STAGE_FAILED } from '../exit-codes.ts';
import { writeStageGroup } from './stage-group-record.ts';
import { crashPoint } from '../crash-points.ts';
import type { StageFailure } from './stage-failure.ts';
import { describeFailure } from '../logging/reason-text.ts';

/** How a stage's child process (or cluster job) ended. */
export type ProcessOutcome = { ok: true } | { ok: false; failure: StageFailure };

export interface StageProcessOptions {
  stage: string;
  root: string;
  runId: string;
  /** Absolute log file path; created with its folder. */
  logFile: string;
  env: Record<string, string>;
  signal: AbortSignal;
  onOutput(text: string): void;
  onProgress(progress: Progress): void;
  /** Work folder where the child's process group is recorded, so a later run can stop it if this one is killed outright. */
  recordGroupIn?: string;
  /** Where the process runs (local child, cluster job). */
  executor: Executor;
  /** Which part of the stage this process is (`shard-2`, `merge`); absent for a whole stage. Names cluster jobs. */
  part?: string;
  /** What a cluster job asks for; ignored locally. */
  resources?: StageResources;
}

/** Grace period between SIGTERM and SIGKILL when a stage is stopped. */
const KILL_GRACE_MS = 3000;

/** Live children (process-group leaders), killed on our own exit whatever the cause. */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pid of liveGroups) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

const tsxLoader = (): string => import.meta.resolve('tsx');
const moduleRunnerPath = (): string => packageFile('src/execution/module-runner.ts');

/** Run a `cmd:` stage through the shell, in the project root. */
export async function runCommand(cmd: string, options: StageProcessOptions): Promise<ProcessOutcome> {
  return options.executor.run({ file: '/bin/sh', args: ['-c', cmd], ipc: false, what: `$ ${cmd}`, options });
}

/** Run a `module:` stage in `node --import tsx module-runner.ts`. */
export async function runModule(spec: Omit<ModuleRunSpec, 'doneFile' | 'progressFile' | 'resultFile'>, workDir: string, options: StageProcessOptions): Promise<ProcessOutcome> {
  const specFile = join(workDir, 'module-spec.json');
  const doneFile = join(workDir, 'module-done');
  const progressFile = join(workDir, 'progress.json');
  const resultFile = join(workDir, 'module-result.json');
  mkdirSync(workDir, { recursive: true });
  writeFileSync(specFile, JSON.stringify({ ...spec, doneFile, progressFile, resultFile } satisfies ModuleRunSpec));
  const what = `module ${spec.moduleLabel}${spec.shard ? ` (shard ${spec.shard.index + 1}/${spec.shard.count})` : spec.mergeShardOuts ? ' (merge of its shards)' : ''}`;
  const outcome = await options.executor.run({
    file: process.execPath,
    args: ['--import', tsxLoader(), moduleRunnerPath(), specFile],
    ipc: true,
    what,
    progressFile,
    options,
  });
  // A user error, told through the result file wherever the job ran (a cluster job has no IPC): the same one line as locally.
  if (!outcome.ok && outcome.failure.kind === 'exit' && outcome.failure.code === EXIT_STAGE_FAILED) {
    const message = userErrorIn(resultFile);
    if (message !== undefined) return { ok: false, failure: { kind: 'user-error', message } };
  }
  if (!outcome.ok || existsSync(doneFile)) return outcome;
  // Exit 0 without the runner's word that run() resolved: process.exit(0) was called halfway, the outs may be partial.
  return { ok: false, failure: { kind: 'exited-early' } };
}

/** The one-line message of a user error the module runner left in its result file, if it left one. */
function userErrorIn(resultFile: string): string | undefined {
  try {
    const { message } = JSON.parse(readFileSync(resultFile, 'utf8')) as { message?: unknown };
    return typeof message === 'string' ? oneLine(message) : undefined;
  } catch {
    return undefined;
  }
}

const oneLine = (message: string): string => message.split('\n').map((line) => line.trim()).filter(Boolean).join(' ');

/** The local executor: the job as a child process in its own process group. */
export async function spawnLocal({ file, args, ipc, what, options }: StageJob): Promise<ProcessOutcome> {
  const { execa } = await import('execa');
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile);
  log.write(`# stage ${options.stage}, run ${options.runId}, started ${new Date().toISOString()}\n# ${what}\n`);
  const child = execa(file, args, {
    cwd: options.root,
    env: { ...options.env, FORCE_COLOR: '0' },
    stdin: 'ignore',
    buffer: false,
    reject: false,
    detached: true, // own process group, so stopping the stage stops everything it started
    cleanup: false,
    ...(ipc ? { ipc: true, serialization: 'json' as const } : {}),
  });
  const pid = child.pid;
  if (pid !== undefined) {
    liveGroups.add(pid);
    if (options.recordGroupIn) writeStageGroup(options.recordGroupIn, { pgid: pid, runId: options.runId });
    crashPoint('stage started');
  }
  const onData = (chunk: Buffer): void => {
    log.write(chunk);
    options.onOutput(chunk.toString('utf8'));
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let userError: string | undefined;
  if (ipc) {
    child.on('message', (message: unknown) => {
      const m = message as { type?: string; progress?: Progress; message?: string; detail?: string };
      if (m?.type === 'progress' && m.progress) options.onProgress(m.progress);
      // The stage's own input was wrong: its message becomes the result line; the stack is kept in the log only.
      if (m?.type === 'user-error' && typeof m.message === 'string') {
        userError = oneLine(m.message);
        if (m.detail) log.write(`stage ${options.stage} failed: ${m.detail}\n`);
      }
    });
  }
  let interrupted = false;
  let forceKill: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (pid === undefined) return;
    interrupted = true;
    killGroup(pid, 'SIGTERM');
    forceKill = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
  };
  if (options.signal.aborted) stop();
  else options.signal.addEventListener('abort', stop, { once: true });
  const result = await child;
  options.signal.removeEventListener('abort', stop);
  if (forceKill) clearTimeout(forceKill);
  if (pid !== undefined) {
    liveGroups.delete(pid);
    killGroup(pid, 'SIGKILL'); // stragglers the stage left in its group
  }
  const failure: StageFailure | undefined = interrupted
    ? { kind: 'interrupted' }
    : result.exitCode === 0
      ? undefined
      : result.signal
        ? { kind: 'killed', signal: result.signal }
        : result.failed && result.exitCode === undefined
          ? { kind: 'could-not-start', message: result.shortMessage ?? result.message ?? 'unknown error' }
          : ipc && result.exitCode === EXIT_NEVER_SETTLED
            ? { kind: 'never-settled' }
            : result.exitCode === EXIT_STAGE_FAILED && userError !== undefined
              ? { kind: 'user-error', message: userError }
              : { kind: 'exit', code: result.exitCode ?? '?' };
  log.write(`# ended: ${failure ? describeFailure(failure) : 'exit 0'}, ${new Date().toISOString()}\n`);
  await new Promise<void>((resolve) => log.end(resolve));
  return failure ? { ok: false, failure } : { ok: true };
}
