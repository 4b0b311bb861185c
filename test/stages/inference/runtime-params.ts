import { readParams, type ParamReader } from '../../../stages/lib/stage/params.ts';

const RUNTIME_KEYS = [
  'runtime.backend',
  'runtime.inference',
  'runtime.device',
  'runtime.threads',
  'runtime.batch_size',
];

/** A stage's param reader over the given runtime.* values; the other runtime keys are declared but unset, so their defaults apply. */
export function runtimeParams(values: Record<string, unknown>): ParamReader {
  const params = { ...Object.fromEntries(RUNTIME_KEYS.map((key) => [key, undefined])), ...values };
  return readParams({ params, root: process.cwd(), stage: 'test' });
}
