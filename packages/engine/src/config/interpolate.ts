/**
 * `${params.x.y}` interpolation in deps, outs and cmd. Every interpolated key is
 * reported back so it counts as a used param (an interpolated value that is not
 * fingerprinted is DVC's `vars` trap).
 */
import { lookupParam, type Params } from './params.ts';

export interface Interpolation {
  text: string;
  /** Keys interpolated, with their values. */
  used: Map<string, unknown>;
  problems: InterpolationProblem[];
}

export interface InterpolationProblem {
  /** The exact text of the offending `${…}`, to point at it in the source. */
  expression: string;
  key?: string;
  kind: 'unknown-param' | 'not-scalar' | 'not-params';
}

const PARAM_REF = /\$\{\s*params\.([^}\s]*)\s*\}/g;
const ANY_REF = /\$\{[^}]*\}/g;
const SINGLE_PARAM_REF = /^\$\{\s*params\.([^}\s]*)\s*\}$/;

/** Replaces each `${params.key}` whose key is in `values` by that value; other text is left as it is. */
export function substituteParams(text: string, values: Readonly<Record<string, unknown>>): string {
  return text.replace(PARAM_REF, (expression, key: string) =>
    Object.hasOwn(values, key) ? String(values[key]) : expression,
  );
}

/**
 * Replaces `${params.key}` by the value. In paths every `${…}` must be a params
 * reference; in a shell command other `${…}` are left for the shell (`${HOME}`).
 */
export function interpolate(text: string, params: Params, context: 'path' | 'cmd'): Interpolation {
  const used = new Map<string, unknown>();
  const problems: InterpolationProblem[] = [];
  const replaced = text.replace(PARAM_REF, (expression, key: string) => {
    const lookup = lookupParam(params, key);
    if (!lookup.found) {
      problems.push({ expression, key, kind: 'unknown-param' });
      return expression;
    }
    const value = lookup.value;
    if (value !== null && typeof value === 'object') {
      problems.push({ expression, key, kind: 'not-scalar' });
      return expression;
    }
    used.set(key, value);
    return String(value);
  });
  for (const [expression] of text.matchAll(ANY_REF)) {
    if (SINGLE_PARAM_REF.test(expression)) continue;
    if (context === 'path' || /^\$\{\s*param/.test(expression)) problems.push({ expression, kind: 'not-params' });
  }
  return { text: replaced, used, problems };
}
