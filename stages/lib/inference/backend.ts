/**
 * Picks the TF.js compute backend from `runtime.backend`.
 *
 * The native packages (`@tensorflow/tfjs-node-gpu`, `@tensorflow/tfjs-node`) are
 * optional: they are not dependencies of this project (they cannot be built
 * everywhere), so they are imported dynamically and a missing one is a normal
 * outcome for `auto`, and a clear error for an explicit choice.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { checkParam } from 'pipeline-ml-engine';
import { ParamError, type ParamReader } from '../stage/params.ts';
import { BACKEND_CHOICES, sharedParams } from '../stage/shared-params.ts';

export { BACKEND_CHOICES };
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** Imports a module by specifier; injectable so tests can simulate absent packages. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

export interface BackendOptions {
  /** WASM threads (ignored where the WASM build has no thread support, e.g. Node). */
  threads?: number;
  importer?: ModuleImporter;
  /** Called once per candidate that was tried and failed, with why. */
  onSkip?: (candidate: string, reason: string) => void;
}

export interface BackendSelection {
  /** The TF.js backend name now active: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** Which choice produced it (e.g. 'tensorflow-gpu' runs as TF.js backend 'tensorflow'). */
  choice: Exclude<BackendChoice, 'auto'>;
  /** Candidates tried before it, with the reason each failed. */
  skipped: { candidate: string; reason: string }[];
}

export class BackendUnavailableError extends Error {
  constructor(
    readonly choice: string,
    readonly reason: string,
  ) {
    super(`runtime.backend '${choice}' is not available: ${reason}. ${INSTALL_HINT[choice] ?? ''}`.trim());
    this.name = 'BackendUnavailableError';
  }
}

const INSTALL_HINT: Record<string, string> = {
  'tensorflow-gpu':
    'Install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (needs CUDA/cuDNN and a prebuilt libtensorflow for this platform), or set runtime.backend to auto.',
  tensorflow:
    'Install it with `npm install @tensorflow/tfjs-node@4.22.0` (downloads a prebuilt libtensorflow for this platform), or set runtime.backend to auto.',
  wasm: 'It ships with this project as `@tensorflow/tfjs-backend-wasm`; run `npm ci` again.',
  cpu: '',
};

const defaultImporter: ModuleImporter = (specifier) => import(specifier);

/** The optional package behind each native choice. */
const NATIVE_PACKAGE: Partial<Record<string, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** Order `auto` tries, fastest first. */
const AUTO_ORDER: Exclude<BackendChoice, 'auto'>[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** `runtime.backend`, by its declared rule (stages/lib/stage/shared-params.ts). */
export function parseBackendChoice(value: unknown): BackendChoice {
  return readShared('runtime.backend', value) as BackendChoice;
}

/** Activates the backend `choice` asks for (or the best available for `auto`) and returns what runs. */
export async function selectBackend(choice: BackendChoice, opts: BackendOptions = {}): Promise<BackendSelection> {
  const importer = opts.importer ?? defaultImporter;
  const skipped: { candidate: string; reason: string }[] = [];
  const candidates = choice === 'auto' ? AUTO_ORDER : [choice];
  for (const candidate of candidates) {
    try {
      const name = await activate(candidate, importer, opts.threads);
      return { name, choice: candidate, skipped };
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (choice !== 'auto') throw new BackendUnavailableError(candidate, reason);
      skipped.push({ candidate, reason });
      opts.onSkip?.(candidate, reason);
    }
  }
  throw new Error(`no TF.js backend could start: ${skipped.map((s) => `${s.candidate} (${s.reason})`).join('; ')}`);
}

async function activate(
  candidate: Exclude<BackendChoice, 'auto'>,
  importer: ModuleImporter,
  threads: number | undefined,
): Promise<string> {
  switch (candidate) {
    case 'tensorflow-gpu':
      await importer('@tensorflow/tfjs-node-gpu');
      return await switchTo('tensorflow');
    case 'tensorflow':
      await importer('@tensorflow/tfjs-node');
      return await switchTo('tensorflow');
    case 'wasm': {
      const wasm = (await importer('@tensorflow/tfjs-backend-wasm')) as {
        setThreadsCount?: (n: number) => void;
      };
      if (threads && threads > 0 && typeof wasm.setThreadsCount === 'function') wasm.setThreadsCount(threads);
      return await switchTo('wasm');
    }
    case 'cpu':
      return await switchTo('cpu');
  }
}

/** Sets the backend and proves it computes: a package can import yet fail to run (missing libtensorflow, no GPU). */
async function switchTo(name: string): Promise<string> {
  if (!tf.findBackendFactory(name)) throw new Error(`TF.js backend '${name}' was not registered by its package`);
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TF.js backend '${name}' failed to initialise`);
  await tf.ready();
  const sum = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync());
  if (sum[0] !== 4 || sum[1] !== 6) throw new Error(`TF.js backend '${name}' computed a wrong result in its self-test`);
  return tf.getBackend();
}

/** Reads `runtime.backend` / `runtime.threads` from stage params, activates it and logs which one runs. */
export async function setupBackend(
  params: Pick<ParamReader, 'value'>,
  log: (m: string) => void,
  warn: (m: string) => void,
): Promise<string> {
  const choice = parseBackendChoice(params.value('runtime.backend'));
  const threads = threadCount(params.value('runtime.threads'));
  const notInstalled: string[] = [];
  const selection = await selectBackend(choice, {
    threads,
    onSkip: (candidate, reason) => {
      // An optional native package that is simply absent is the normal case: one summary line, not a warning.
      if (NATIVE_PACKAGE[candidate] && /Cannot find (package|module)/.test(reason))
        notInstalled.push(NATIVE_PACKAGE[candidate]);
      else warn(`backend ${candidate} not available: ${reason}`);
    },
  });
  const via = selection.choice !== selection.name ? `, via ${selection.choice}` : '';
  const absent = notInstalled.length ? `; not installed: ${notInstalled.join(', ')}` : '';
  log(`TF.js backend: ${selection.name} (runtime.backend=${choice}${via}${absent})`);
  return selection.name;
}

/** `runtime.threads`: 0/absent = all cores. */
export function threadCount(value: unknown): number {
  const n = readShared('runtime.threads', value) as number;
  return n === 0 ? Math.max(1, availableCores()) : n;
}

/** A shared param read by its declared rule; a bad value is a ParamError (a user error). */
export function readShared(key: keyof typeof sharedParams, value: unknown): unknown {
  const checked = checkParam(key, sharedParams[key], value);
  if (!checked.ok) throw new ParamError(key, checked.message);
  return checked.value;
}

function availableCores(): number {
  // availableParallelism respects CPU affinity (containers, taskset).
  return os.availableParallelism();
}
