/**
 * Param rules: what a module stage declares about the params it reads (type,
 * range, choices, default, a one-line description), as plain data.
 *
 * The declaration sits next to the stage, in `<stage>.params.ts` (default
 * export, see src/contract.ts). The engine imports that file, never the stage
 * itself, and checks every value before any stage starts; the stage reads its
 * values through the same rules (`checkParam`), so each rule exists once.
 *
 * No imports: this file is part of every module stage's fingerprint.
 */

interface RuleBase<T> {
  /** One line for `pipeline params` and editors. */
  description: string;
  /** Used when the value is unset (null, missing or ''). */
  default?: T;
  /** Unset is allowed and reads as `undefined` (the stage decides what that means). */
  optional?: boolean;
}

export interface NumberRule extends RuleBase<number> {
  kind: 'number';
  integer?: boolean;
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  /** Exclusive bounds. */
  gt?: number;
  lt?: number;
  /** `false` is accepted and reads as 0 ("off"). */
  falseIsZero?: boolean;
  /** The word `auto` is accepted as is (the stage picks the value, e.g. a per-optimizer default). */
  orAuto?: boolean;
  /** A mapping from these names to numbers (each within the bounds) is accepted as is: `lr: { adam: 0.003 }`. */
  perChoice?: readonly string[];
  /** A pair `[lo, hi]` with gt < lo ≤ hi ≤ max is accepted as is: `zoom_range: [0.8, 1.2]`. */
  pair?: { gt: number; max: number };
}

export interface FlagRule extends RuleBase<boolean> {
  kind: 'flag';
}

export interface ChoiceRule extends RuleBase<string> {
  kind: 'choice';
  choices: readonly string[];
}

export interface TextRule extends RuleBase<string> {
  kind: 'string';
  /** Replaces "a non-empty string" in errors, e.g. "a path or an http(s) URL". */
  expects?: string;
}

export interface PathRule extends RuleBase<string> {
  kind: 'path';
  /** What the path names, for errors: "folder", "file". */
  what?: string;
}

export interface NamesRule extends RuleBase<readonly string[]> {
  kind: 'names';
  /** Fewest names the list may hold. */
  minItems?: number;
}

export type ParamRule = NumberRule | FlagRule | ChoiceRule | TextRule | PathRule | NamesRule;

/** Dotted param key (`train.lr`) → its rule. */
export type ParamRules = Readonly<Record<string, ParamRule>>;

type Options<R extends ParamRule> = Omit<R, 'kind'>;

/** Builders for declarations: `param.number({ gt: 0, default: 0.001, description: '…' })`. */
export const param = {
  number: (rule: Options<NumberRule>): NumberRule => ({ kind: 'number', ...rule }),
  integer: (rule: Omit<Options<NumberRule>, 'integer'>): NumberRule => ({ kind: 'number', integer: true, ...rule }),
  oneOf: <const T extends string>(
    choices: readonly T[],
    rule: Omit<Options<ChoiceRule>, 'choices'> & { default?: T },
  ): ChoiceRule => ({ kind: 'choice', choices, ...rule }),
  flag: (rule: Options<FlagRule>): FlagRule => ({ kind: 'flag', ...rule }),
  string: (rule: Options<TextRule>): TextRule => ({ kind: 'string', ...rule }),
  /** A path relative to the project root. */
  path: (rule: Options<PathRule>): PathRule => ({ kind: 'path', ...rule }),
  /** A path, or unset / false for "none". */
  optionalPath: (rule: Omit<Options<PathRule>, 'optional'>): PathRule => ({ kind: 'path', optional: true, ...rule }),
  /** A list of distinct non-empty names: `classes: [cat, dog]`. */
  names: (rule: Options<NamesRule>): NamesRule => ({ kind: 'names', ...rule }),
};

/** Identity helper for a `<stage>.params.ts` default export, so the declaration is type-checked. */
export function defineParams<const R extends ParamRules>(rules: R): R {
  return rules;
}

export type ParamCheck = { ok: true; value: unknown } | { ok: false; message: string; expected: string };

/**
 * A value against its rule: the value the stage reads (numbers parsed from
 * numeric strings, the default for an unset value, paths still relative), or
 * `train.lr must be a number > 0, got "fast"`.
 */
export function checkParam(key: string, rule: ParamRule, value: unknown): ParamCheck {
  const expected = describeRule(rule);
  const bad = (): ParamCheck => ({
    ok: false,
    message: `${key} must be ${expected}, got ${showValue(value)}`,
    expected,
  });
  const off = rule.kind === 'path' && rule.optional && value === false;
  if (isUnset(value) || off) {
    if (rule.default !== undefined) return { ok: true, value: rule.default };
    if (rule.optional) return { ok: true, value: undefined };
    return rule.kind === 'flag' ? { ok: true, value: false } : bad();
  }
  switch (rule.kind) {
    case 'number': {
      if (value === false && rule.falseIsZero) return { ok: true, value: 0 };
      if (value === 'auto' && rule.orAuto) return { ok: true, value };
      if (rule.pair && Array.isArray(value)) {
        const [lo, hi] = value.map(toNumber);
        const fits =
          value.length === 2 &&
          lo !== undefined &&
          hi !== undefined &&
          lo > rule.pair.gt &&
          lo <= hi &&
          hi <= rule.pair.max;
        return fits ? { ok: true, value: [lo, hi] } : bad();
      }
      if (rule.perChoice && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const [name, v] of Object.entries(value)) {
          if (!rule.perChoice.includes(name)) {
            return {
              ok: false,
              message: `${key}.${name}: "${name}" is not one of ${rule.perChoice.join(', ')}; ${key} must be ${expected}`,
              expected,
            };
          }
          const n = toNumber(v);
          if (n === undefined || (rule.integer && !Number.isInteger(n)) || !withinBounds(n, rule)) {
            return {
              ok: false,
              message: `${key}.${name} must be ${describeNumber(rule)}, got ${showValue(v)}`,
              expected,
            };
          }
        }
        return { ok: true, value };
      }
      const n = toNumber(value);
      const fits = n !== undefined && (!rule.integer || Number.isInteger(n)) && withinBounds(n, rule);
      return fits ? { ok: true, value: n } : bad();
    }
    case 'flag':
      if (value === true || value === 1) return { ok: true, value: true };
      if (value === false || value === 0) return { ok: true, value: false };
      return bad();
    case 'choice':
      return rule.choices.includes(value as string) ? { ok: true, value } : bad();
    case 'string':
    case 'path':
      return typeof value === 'string' && value.trim() !== '' ? { ok: true, value } : bad();
    case 'names': {
      const names =
        Array.isArray(value) && value.every((v) => typeof v === 'string' && v.trim() !== '')
          ? (value as string[])
          : undefined;
      const fits = names !== undefined && names.length >= (rule.minItems ?? 1) && new Set(names).size === names.length;
      return fits ? { ok: true, value: names } : bad();
    }
  }
}

/** What the rule accepts, as the end of "train.lr must be …". */
export function describeRule(rule: ParamRule): string {
  const orEmpty = rule.optional && rule.kind !== 'path' && !(rule.kind === 'number' && rule.orAuto) ? ', or empty' : '';
  return describeKind(rule) + orEmpty;
}

function describeKind(rule: ParamRule): string {
  switch (rule.kind) {
    case 'number':
      return (
        describeNumber(rule) +
        (rule.falseIsZero ? ' (0 or false = off)' : '') +
        (rule.orAuto ? (rule.perChoice ? ', auto' : ' or auto') : '') +
        (rule.perChoice
          ? `, or a mapping ${rule.perChoice.join(' / ')} → ${describeNumber(rule).replace(/^an? /, '')}`
          : '') +
        (rule.pair ? `, or a pair [lo, hi] with ${rule.pair.gt} < lo ≤ hi ≤ ${rule.pair.max}` : '')
      );
    case 'flag':
      return 'true or false';
    case 'choice':
      return `one of ${rule.choices.join(', ')}`;
    case 'string':
      return rule.expects ?? (rule.optional ? 'a string' : 'a non-empty string');
    case 'path':
      return `a ${rule.what ?? 'path'} path (relative to the project root)${rule.optional ? ', or empty for none' : ''}`;
    case 'names':
      return `a list of ${rule.minItems ?? 1} or more distinct names`;
  }
}

/** "a number > 0", "an integer ≥ 1", "a number in [0, 1)". */
export function describeNumber(r: Pick<NumberRule, 'integer' | 'min' | 'max' | 'gt' | 'lt'>): string {
  const noun = r.integer ? 'an integer' : 'a number';
  // Six significant digits: π/2 reads 1.5708, not 1.5707963267948966.
  const short = (x: number | undefined) => (x === undefined ? undefined : Number(x.toPrecision(6)));
  const low = short(r.gt ?? r.min);
  const high = short(r.lt ?? r.max);
  if (low !== undefined && high !== undefined) {
    return `${noun} in ${r.gt !== undefined ? '(' : '['}${low}, ${high}${r.lt !== undefined ? ')' : ']'}`;
  }
  if (low !== undefined) return `${noun} ${r.gt !== undefined ? '>' : '≥'} ${low}`;
  if (high !== undefined) return `${noun} ${r.lt !== undefined ? '<' : '≤'} ${high}`;
  return noun;
}

/** null, missing or '' (YAML `lr:`, `--set lr=`). */
export function isUnset(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** How a value appears in an error: strings quoted, unset spelt out. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- JSON has no text for a function or a symbol
    return JSON.stringify(value) ?? String(value);
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a BigInt or a circular object: String is the last resort
    return String(value);
  }
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function withinBounds(n: number, r: NumberRule): boolean {
  return (
    (r.min === undefined || n >= r.min) &&
    (r.max === undefined || n <= r.max) &&
    (r.gt === undefined || n > r.gt) &&
    (r.lt === undefined || n < r.lt)
  );
}
