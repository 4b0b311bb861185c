/**
 * One way for a stage to read its params: `const p = readParams(ctx)`, then
 * `p.number('train.lr', { gt: 0 })`, `p.positiveInt('runtime.batch_size')`,
 * `p.flag('predict.tta_flip')`, `p.oneOf('train.optimizer', OPTIMIZERS)`, …
 *
 * Every read checks two things:
 * - the stage declared the key (or a subtree holding it) in its pipeline.yaml
 *   `params:` list. The engine hands a stage only what it declares, and only
 *   declared params are fingerprinted, so an undeclared read is a bug: it would
 *   silently use a default and never rerun when the value changes.
 * - the value obeys the rule. The error names the key, the rule and the value:
 *   `train.lr must be a number > 0, got "abc"`.
 *
 * An unset value (YAML `lr:` → null, or `--set lr=` → '') takes the default
 * where the caller gives one, else fails. `isSet` tells which, for params whose
 * "unset" has a meaning of its own (e.g. model.input_size: take the backbone's).
 */
import path from 'node:path';
import type { StageContext } from '../../src/contract.ts';

export class ParamError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ParamError';
  }
}

/** Bounds for `number`/`integer`: min/max are inclusive, gt/lt exclusive. */
export interface NumberRule {
  min?: number;
  max?: number;
  gt?: number;
  lt?: number;
}

interface WithDefault<T> {
  /** Used when the declared value is unset (null, undefined or ''). */
  default?: T;
}

export interface ParamReader {
  /** True when the stage declares `key` and its value is not null/undefined/''. */
  isSet(key: string): boolean;
  /** The raw value (a whole subtree for a key like `augment`), for a validator of its own. */
  value(key: string): unknown;
  /** A finite number obeying `rule` (a numeric string counts: YAML `"0.5"`). */
  number(key: string, rule?: NumberRule & WithDefault<number>): number;
  integer(key: string, rule?: NumberRule & WithDefault<number>): number;
  positiveInt(key: string, opts?: WithDefault<number>): number;
  /** true/false (1/0 accepted); unset is false unless a default says otherwise. */
  flag(key: string, opts?: WithDefault<boolean>): boolean;
  oneOf<const T extends string>(key: string, choices: readonly T[], opts?: WithDefault<T>): T;
  /** A non-empty string; `describe` replaces "a non-empty string" in the error. */
  string(key: string, opts?: WithDefault<string> & { describe?: string }): string;
  /** An absolute path: the value resolved against the project root. `what` names it in errors ("folder", "file"). */
  path(key: string, what?: string): string;
  /** Like `path`, but unset (or false) means "none": undefined. */
  optionalPath(key: string, what?: string): string | undefined;
  /** Runs a parser of the value's own (which names the key in its errors) after the declared-key check. */
  parse<T>(key: string, parser: (value: unknown) => T): T;
}

/** `ctx` needs `params`, `root` (for paths) and `stage` (for the "declare it" hint). */
export function readParams(ctx: Pick<StageContext, 'params' | 'root' | 'stage'>): ParamReader {
  const { params, root, stage } = ctx;

  const lookup = (key: string): unknown => {
    if (Object.hasOwn(params, key)) return params[key];
    // A declared subtree (`augment`) holds its keys (`augment.copies`).
    const parts = key.split('.');
    for (let n = parts.length - 1; n >= 1; n--) {
      const prefix = parts.slice(0, n).join('.');
      if (!Object.hasOwn(params, prefix)) continue;
      let node: unknown = params[prefix];
      for (const part of parts.slice(n)) {
        node = isMapping(node) && Object.hasOwn(node, part) ? node[part] : undefined;
      }
      return node;
    }
    const who = stage ? `stage "${stage}"` : 'the stage';
    throw new ParamError(key, `${who} reads param ${key} but does not declare it: add ${key} to the params: list of ${who} in pipeline.yaml`);
  };

  const fail = (key: string, rule: string, value: unknown): never => {
    throw new ParamError(key, `${key} must be ${rule}, got ${show(value)}`);
  };

  /** The declared value, or `fallback` when unset; a missing default is an error. */
  const setValue = <T>(key: string, rule: string, opts: WithDefault<T> | undefined): { value: unknown } | { fallback: T } => {
    const value = lookup(key);
    if (!isUnset(value)) return { value };
    if (opts && 'default' in opts && opts.default !== undefined) return { fallback: opts.default };
    return fail(key, rule, value);
  };

  const numeric = (key: string, rule: NumberRule & WithDefault<number>, integer: boolean): number => {
    const text = describeNumber(rule, integer);
    const got = setValue(key, text, rule);
    if ('fallback' in got) return got.fallback;
    const n = toNumber(got.value);
    if (n === undefined || (integer && !Number.isInteger(n)) || !withinRule(n, rule)) return fail(key, text, got.value);
    return n;
  };

  const reader: ParamReader = {
    isSet: (key) => !isUnset(lookup(key)),
    value: (key) => lookup(key),
    number: (key, rule = {}) => numeric(key, rule, false),
    integer: (key, rule = {}) => numeric(key, rule, true),
    positiveInt: (key, opts = {}) => numeric(key, { ...opts, min: 1 }, true),
    flag(key, opts = {}) {
      const value = lookup(key);
      if (isUnset(value)) return opts.default ?? false;
      if (value === true || value === 1) return true;
      if (value === false || value === 0) return false;
      return fail(key, 'true or false', value);
    },
    oneOf(key, choices, opts) {
      const text = `one of ${choices.join(', ')}`;
      const got = setValue(key, text, opts);
      if ('fallback' in got) return got.fallback;
      const match = choices.find((c) => c === got.value);
      return match ?? fail(key, text, got.value);
    },
    string(key, opts) {
      const rule = opts?.describe ?? 'a non-empty string';
      const got = setValue(key, rule, opts);
      if ('fallback' in got) return got.fallback;
      if (typeof got.value !== 'string' || got.value.trim() === '') return fail(key, rule, got.value);
      return got.value;
    },
    path(key, what = 'path') {
      const rule = `a ${what} path (relative to the project root)`;
      const value = lookup(key);
      if (typeof value !== 'string' || value.trim() === '') return fail(key, rule, value);
      return path.resolve(root, value);
    },
    optionalPath(key, what = 'path') {
      const value = lookup(key);
      if (isUnset(value) || value === false) return undefined;
      if (typeof value !== 'string') return fail(key, `a ${what} path (relative to the project root), or empty for none`, value);
      return path.resolve(root, value);
    },
    parse: (key, parser) => parser(lookup(key)),
  };
  return reader;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUnset(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function withinRule(n: number, r: NumberRule): boolean {
  return (r.min === undefined || n >= r.min) && (r.max === undefined || n <= r.max) && (r.gt === undefined || n > r.gt) && (r.lt === undefined || n < r.lt);
}

/** "a number > 0", "an integer ≥ 1", "a number in [0, 1)". */
export function describeNumber(r: NumberRule, integer = false): string {
  const noun = integer ? 'an integer' : 'a number';
  const low = r.gt ?? r.min;
  const high = r.lt ?? r.max;
  if (low !== undefined && high !== undefined) {
    return `${noun} in ${r.gt !== undefined ? '(' : '['}${low}, ${high}${r.lt !== undefined ? ')' : ']'}`;
  }
  if (low !== undefined) return `${noun} ${r.gt !== undefined ? '>' : '≥'} ${low}`;
  if (high !== undefined) return `${noun} ${r.lt !== undefined ? '<' : '≤'} ${high}`;
  return noun;
}

/** How a value appears in an error: strings quoted, unset spelt out. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
