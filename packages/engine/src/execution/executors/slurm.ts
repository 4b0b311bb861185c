/**
 * The Slurm executor: every stage process (a whole stage, a shard, a merge)
 * becomes one `sbatch` job running the same program the local executor would
 * start, in the project root, which must lie on a filesystem every node sees.
 * The job writes only its log and its temporary outs; the engine on the
 * submitting machine installs the outs and writes pipeline.lock, as locally.
 *
 * Tracking: one batched `squeue` for all jobs of the run every `poll_seconds`
 * (finished jobs stay listed for `MinJobAge`), then `scontrol show job` once
 * per finished job for its exit code. Every submitted job is appended to
 * `.pipeline/tmp/<run-id>/slurm-jobs.jsonl`, so `pipeline status` can list
 * them and a later run can cancel what a killed run left queued or running.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Progress } from '../../contract.ts';
import type { ExecutorConfig, StageResources } from '../../config/pipeline.ts';
import { EXIT_NEVER_SETTLED } from '../../exit-codes.ts';
import type { ProcessOutcome } from '../stage-process.ts';
import { describeFailure } from '../stage-failure.ts';
import type { Executor, StageJob } from './executor.ts';

/** Slurm job states after which a job never runs again. */
const ENDED = new Set([
  'COMPLETED',
  'FAILED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'CANCELLED',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'REVOKED',
  'SPECIAL_EXIT',
]);

/** A poll that no longer lists a job this many times in a row (purged from slurmctld's memory) asks scontrol, then gives up. */
const MISSING_POLLS = 3;

/** How long a cancelled job may take to leave the running states before the engine stops waiting for it. */
const CANCEL_WAIT_MS = 60_000;

const JOBS_FILE = 'slurm-jobs.jsonl';

export interface SlurmJobRecord {
  jobId: string;
  name: string;
  stage: string;
  log: string;
}

/** `pipeline.<run-id>.<stage>[.<part>]`: a job names its run, so leftovers are found by name. */
export function slurmJobName(runId: string, stage: string, part?: string): string {
  return `pipeline.${runId}.${stage}${part ? `.${part}` : ''}`;
}

/** Whether Slurm's client commands are on PATH. */
export function slurmAvailable(): boolean {
  try {
    execFileSync('sbatch', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `resources:` → sbatch flags (stage keys over the executor block's defaults). */
export function sbatchResourceFlags(resources: StageResources): string[] {
  const flags: string[] = [];
  if (resources.cpus !== undefined) flags.push(`--cpus-per-task=${resources.cpus}`);
  if (resources.mem !== undefined) flags.push(`--mem=${resources.mem}`);
  if (resources.time !== undefined) flags.push(`--time=${resources.time}`);
  if (resources.gpus !== undefined && resources.gpus > 0) flags.push(`--gres=gpu:${resources.gpus}`);
  return flags;
}

function run(command: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ ok: !error, stdout, stderr: stderr || (error?.message ?? '') }),
    );
  });
}

/** `squeue` lines `id|state|…` → id → the rest. */
function parseQueue(stdout: string): Map<string, string[]> {
  const states = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const [id, ...rest] = line.trim().split('|');
    if (id) states.set(id, rest);
  }
  return states;
}

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

interface TrackedJob {
  jobId: string;
  job: StageJob;
  resolve(outcome: ProcessOutcome): void;
  logOffset: number;
  progressStamp: number;
  cancelled: boolean;
  cancelledAt: number;
  missing: number;
  stopListening(): void;
}

export class SlurmExecutor implements Executor {
  readonly name = 'slurm';
  private readonly tracked = new Map<string, TrackedJob>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly pollMs: number;

  /** `runDir`: `.pipeline/tmp/<run-id>`, where the run's job list is kept. */
  constructor(
    private readonly config: ExecutorConfig | undefined,
    private readonly runDir: string,
  ) {
    this.pollMs = Math.max(1, config?.pollSeconds ?? 5) * 1000;
    // The engine exits (an internal error, an explicit exit): nothing will collect these jobs' outs.
    process.once('exit', () => {
      const ids = [...this.tracked.keys()];
      if (ids.length > 0)
        try {
          execFileSync('scancel', ids, { stdio: 'ignore' });
        } catch {
          /* best effort */
        }
    });
  }

  shardConcurrency(_jobs: number, shards: number): number {
    return shards; // the cluster schedules them
  }

  async run(job: StageJob): Promise<ProcessOutcome> {
    const { options } = job;
    const workDir = options.recordGroupIn ?? dirname(options.logFile);
    mkdirSync(workDir, { recursive: true });
    mkdirSync(dirname(options.logFile), { recursive: true });
    const script = join(workDir, `${options.part ?? 'stage'}.sbatch`);
    const env = { ...options.env, FORCE_COLOR: '0' };
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `# stage ${options.stage}${options.part ? ` (${options.part})` : ''} of run ${options.runId}, written by pipeline`,
        `cd ${shellQuote(options.root)} || exit 1`,
        ...Object.entries(env).map(([key, value]) => `export ${key}=${shellQuote(value)}`),
        `exec ${[job.file, ...job.args].map(shellQuote).join(' ')} </dev/null`,
        '',
      ].join('\n'),
    );
    const name = slurmJobName(options.runId, options.stage, options.part);
    const resources = { ...this.config?.resources, ...options.resources };
    const args = [
      '--parsable',
      `--job-name=${name}`,
      `--output=${options.logFile}`,
      '--open-mode=append',
      `--chdir=${options.root}`,
      ...(this.config?.partition ? [`--partition=${this.config.partition}`] : []),
      ...(this.config?.account ? [`--account=${this.config.account}`] : []),
      ...sbatchResourceFlags(resources),
      script,
    ];
    writeFileSync(
      options.logFile,
      `# stage ${options.stage}, run ${options.runId}, started ${new Date().toISOString()}\n# ${job.what}\n`,
    );
    if (options.signal.aborted) return this.end(options.logFile, { ok: false, failure: { kind: 'interrupted' } });
    const submitted = await run('sbatch', args);
    if (!submitted.ok)
      return this.end(options.logFile, {
        ok: false,
        failure: { kind: 'submit-failed', message: submitted.stderr.trim().split('\n')[0] ?? '' },
      });
    const jobId = submitted.stdout.trim().split(';')[0];
    appendFileSync(options.logFile, `# Slurm job ${jobId} (${name})\n`);
    mkdirSync(this.runDir, { recursive: true });
    appendFileSync(
      join(this.runDir, JOBS_FILE),
      JSON.stringify({ jobId, name, stage: options.stage, log: options.logFile } satisfies SlurmJobRecord) + '\n',
    );
    let logOffset = 0;
    try {
      logOffset = statSync(options.logFile).size;
    } catch {
      /* the job created it already */
    }
    return new Promise((resolve) => {
      const cancel = (): void => this.cancel(jobId);
      const tracked: TrackedJob = {
        jobId,
        job,
        resolve,
        logOffset,
        progressStamp: 0,
        cancelled: false,
        cancelledAt: 0,
        missing: 0,
        stopListening: () => options.signal.removeEventListener('abort', cancel),
      };
      this.tracked.set(jobId, tracked);
      if (options.signal.aborted) cancel();
      else options.signal.addEventListener('abort', cancel, { once: true });
      this.schedule();
    });
  }

  private cancel(jobId: string): void {
    const tracked = this.tracked.get(jobId);
    if (!tracked || tracked.cancelled) return;
    tracked.cancelled = true;
    tracked.cancelledAt = Date.now();
    void run('scancel', [jobId]);
  }

  private schedule(): void {
    if (this.timer || this.polling || this.tracked.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.pollMs);
  }

  /** One squeue call for every job of the run still tracked. */
  private async poll(): Promise<void> {
    this.polling = true;
    try {
      const ids = [...this.tracked.keys()];
      const queue = await run('squeue', ['--noheader', '--states=all', `--jobs=${ids.join(',')}`, '--format=%i|%T|%r']);
      const states = parseQueue(queue.stdout);
      for (const tracked of [...this.tracked.values()]) {
        this.forward(tracked);
        const [state, reason] = states.get(tracked.jobId) ?? [];
        if (state && ENDED.has(state)) await this.finish(tracked, state, reason);
        else if (!state && ++tracked.missing >= MISSING_POLLS) await this.finish(tracked, undefined, undefined);
        else if (state) tracked.missing = 0;
        if (tracked.cancelled && this.tracked.has(tracked.jobId) && Date.now() - tracked.cancelledAt > CANCEL_WAIT_MS) {
          this.settle(tracked, {
            ok: false,
            failure: {
              kind: 'interrupted',
              detail: `Slurm job ${tracked.jobId} still ${state ?? 'unknown'} after scancel`,
            },
          });
        }
      }
    } finally {
      this.polling = false;
      this.schedule();
    }
  }

  /** New log bytes → live output; a newer progress file → progress. */
  private forward(tracked: TrackedJob): void {
    const { options, progressFile } = tracked.job;
    try {
      const size = statSync(options.logFile).size;
      if (size > tracked.logOffset) {
        const fd = openSync(options.logFile, 'r');
        const buffer = Buffer.alloc(size - tracked.logOffset);
        readSync(fd, buffer, 0, buffer.length, tracked.logOffset);
        closeSync(fd);
        tracked.logOffset = size;
        options.onOutput(buffer.toString('utf8'));
      }
    } catch {
      /* not written yet */
    }
    if (!progressFile) return;
    try {
      const stamp = statSync(progressFile).mtimeMs;
      if (stamp === tracked.progressStamp) return;
      tracked.progressStamp = stamp;
      options.onProgress(JSON.parse(readFileSync(progressFile, 'utf8')) as Progress);
    } catch {
      /* none yet */
    }
  }

  private async finish(tracked: TrackedJob, state: string | undefined, reason: string | undefined): Promise<void> {
    const shown = await run('scontrol', ['show', 'job', '-o', tracked.jobId]);
    state ??= /JobState=(\S+)/.exec(shown.stdout)?.[1];
    if (state && !ENDED.has(state)) return; // still around after all: keep polling
    const exit = /ExitCode=(\d+):(\d+)/.exec(shown.stdout);
    const code = exit ? Number(exit[1]) : undefined;
    const signal = exit ? Number(exit[2]) : 0;
    const module = tracked.job.progressFile !== undefined;
    let outcome: ProcessOutcome;
    if (tracked.cancelled) outcome = { ok: false, failure: { kind: 'interrupted' } };
    else if (state === undefined) outcome = { ok: false, failure: { kind: 'job-vanished', jobId: tracked.jobId } };
    else if (state === 'COMPLETED' && code === 0) outcome = { ok: true };
    else if (state === 'FAILED' || state === 'COMPLETED') {
      const job = { id: tracked.jobId, state };
      outcome = {
        ok: false,
        failure:
          signal > 0
            ? { kind: 'killed', signal: `signal ${signal}`, job }
            : module && code === EXIT_NEVER_SETTLED
              ? { kind: 'never-settled', job }
              : { kind: 'exit', code: code ?? '?', job },
      };
    } else if (state === 'TIMEOUT') {
      const limit = /TimeLimit=(\S+)/.exec(shown.stdout)?.[1];
      outcome = {
        ok: false,
        failure: {
          kind: 'job-ended',
          job: { id: tracked.jobId, state },
          ...(limit ? { detail: `time limit ${limit}` } : {}),
        },
      };
    } else
      outcome = {
        ok: false,
        failure: {
          kind: 'job-ended',
          job: { id: tracked.jobId, state },
          ...(reason && reason !== 'None' ? { detail: reason } : {}),
        },
      };
    this.forward(tracked);
    this.settle(tracked, outcome);
  }

  private settle(tracked: TrackedJob, outcome: ProcessOutcome): void {
    this.tracked.delete(tracked.jobId);
    tracked.stopListening();
    tracked.resolve(this.end(tracked.job.options.logFile, outcome));
  }

  private end(logFile: string, outcome: ProcessOutcome): ProcessOutcome {
    try {
      appendFileSync(
        logFile,
        `# ended: ${outcome.ok ? 'exit 0' : describeFailure(outcome.failure)}, ${new Date().toISOString()}\n`,
      );
    } catch {
      /* log folder gone */
    }
    return outcome;
  }
}

/** The jobs runs recorded under `.pipeline/tmp/` (the current run's and those of killed runs). */
export function recordedSlurmJobs(tmpRoot: string): SlurmJobRecord[] {
  const records: SlurmJobRecord[] = [];
  let runs: string[];
  try {
    runs = readdirSync(tmpRoot);
  } catch {
    return records;
  }
  for (const runId of runs) {
    let text: string;
    try {
      text = readFileSync(join(tmpRoot, runId, JOBS_FILE), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      try {
        if (line.trim()) records.push(JSON.parse(line) as SlurmJobRecord);
      } catch {
        /* a line torn by a kill */
      }
    }
  }
  return records;
}

/** The recorded jobs Slurm still knows under their recorded names, with their state. */
export function queuedSlurmJobs(records: SlurmJobRecord[]): (SlurmJobRecord & { state: string })[] {
  if (records.length === 0) return [];
  let stdout: string;
  try {
    stdout = execFileSync(
      'squeue',
      ['--noheader', '--states=all', `--jobs=${records.map((r) => r.jobId).join(',')}`, '--format=%i|%T|%j'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
  } catch {
    return []; // no Slurm here, or none of them is known any more
  }
  const states = parseQueue(stdout);
  return records.flatMap((record) => {
    const [state, name] = states.get(record.jobId) ?? [];
    return state && name === record.name ? [{ ...record, state }] : [];
  });
}

/**
 * Before a run: cancel the jobs a killed run left queued or running (only
 * jobs whose Slurm name still carries that run's id), and wait until they
 * have ended, so none writes into the outs the recovery is about to put back.
 * Returns the cancelled jobs.
 */
export function cancelLeftoverSlurmJobs(tmpRoot: string): SlurmJobRecord[] {
  const alive = queuedSlurmJobs(recordedSlurmJobs(tmpRoot)).filter((job) => !ENDED.has(job.state));
  if (alive.length === 0) return [];
  const ids = alive.map((job) => job.jobId);
  try {
    execFileSync('scancel', ids, { stdio: 'ignore' });
  } catch {
    /* some ended meanwhile */
  }
  const deadline = Date.now() + CANCEL_WAIT_MS;
  while (Date.now() < deadline && queuedSlurmJobs(alive).some((job) => !ENDED.has(job.state))) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
  return alive;
}

/** Whether a Slurm state means the job has ended. */
export function slurmJobEnded(state: string): boolean {
  return ENDED.has(state);
}
