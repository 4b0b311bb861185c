/**
 * How a stage becomes a process: a `cmd:` stage is a shell command, a `module:`
 * stage runs in module-runner.ts; either is a StageJob handed to the executor
 * (executors/local.ts spawns it here, executors/slurm.ts submits it).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Progress, RunFigures } from '../contract.ts';
import type { StageResources } from '../config/pipeline.ts';
import type { Executor } from './executors/executor.ts';
import type { ModuleDone, ModuleRunSpec } from './module-runner.ts';
import { EXIT_STAGE_FAILED } from '../exit-codes.ts';
import type { StageFailure } from './stage-failure.ts';

/** How a stage's child process (or cluster job) ended; a module stage's success carries the figures it reported. */
export type ProcessOutcome = { ok: true; figures?: RunFigures } | { ok: false; failure: StageFailure };

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

const tsxLoader = (): string => import.meta.resolve('tsx');
// The runner beside this file: dist/execution/module-runner.js when the engine runs compiled, the .ts under tsx.
const moduleRunnerPath = (): string =>
  fileURLToPath(new URL(`./module-runner${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

/** Run a `cmd:` stage through the shell, in the project root. */
export async function runCommand(cmd: string, options: StageProcessOptions): Promise<ProcessOutcome> {
  return options.executor.run({ file: '/bin/sh', args: ['-c', cmd], ipc: false, what: `$ ${cmd}`, options });
}

/** Run a `module:` stage in `node --import tsx module-runner.ts`. */
export async function runModule(
  spec: Omit<ModuleRunSpec, 'doneFile' | 'progressFile' | 'resultFile'>,
  workDir: string,
  options: StageProcessOptions,
): Promise<ProcessOutcome> {
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
  if (!outcome.ok) return outcome;
  // Exit 0 without the runner's word that run() resolved: process.exit(0) was called halfway, the outs may be partial.
  if (!existsSync(doneFile)) return { ok: false, failure: { kind: 'exited-early' } };
  return { ok: true, figures: (JSON.parse(readFileSync(doneFile, 'utf8')) as ModuleDone).figures };
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

export const oneLine = (message: string): string =>
  message
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
