/**
 * The local executor: each stage (or shard) is a child process in its own
 * process group, so stopping a stage stops everything it started; `--jobs`
 * bounds the shards too. Every child is killed on the engine's own exit.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Progress } from '../../contract.ts';
import { crashPoint } from '../../crash-points.ts';
import { EXIT_NEVER_SETTLED, EXIT_STAGE_FAILED } from '../../exit-codes.ts';
import { writeStageGroup } from '../stage-group-record.ts';
import { describeFailure, type StageFailure } from '../stage-failure.ts';
import { oneLine, type ProcessOutcome } from '../stage-process.ts';
import type { Executor, StageJob } from './executor.ts';

export const localExecutor: Executor = {
  name: 'local',
  run: (job) => spawnLocal(job),
  shardConcurrency: (jobs, shards) => Math.max(1, Math.min(jobs, shards)),
};

/** Grace period between SIGTERM and SIGKILL when a stage is stopped. */
const KILL_GRACE_MS = 3000;

/** Live children (process-group leaders), killed on our own exit whatever the cause. */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** The job as a child process in its own process group, its output teed into the log and the reporter. */
async function spawnLocal({ file, args, ipc, what, options }: StageJob): Promise<ProcessOutcome> {
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
