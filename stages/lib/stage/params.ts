/**
 * One way for a stage to read its params: `const p = readParams(ctx, rules)`,
 * then `p.number('train.lr')`, `p.positiveInt('runtime.batch_size')`,
 * `p.flag('predict.tta_flip')`, `p.oneOf('train.optimizer')`, …
 *
 * `rules` is the stage's declaration (its `<stage>.params.ts`, see
 * src/contract.ts): the engine checks the same rules before any stage starts,
 * so a declared key needs no rule at the call site. A key without a declaration
 * may still carry an inline rule (`p.number('x', { gt: 0 })`); it is checked
 * only when the stage reads it.
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
import {
  checkParam,
  isUnset,
  describeNumber as describeNumberRule,
  type NumberRule as DeclaredNumberRule,
  type ParamRule,
  type ParamRules,
} from 'pipeline-ml-engine';
import { StageUserError, type StageContext } from 'pipeline-ml-engine';

/** A bad param value, or a read of an undeclared key: a user error, shown as one line. */
export class ParamError extends StageUserError {
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
  /** A finite number obeying its rule (a numeric string counts: YAML `"0.5"`). */
  number(key: string, rule?: NumberRule & WithDefault<number>): number;
  integer(key: string, rule?: NumberRule & WithDefault<number>): number;
  positiveInt(key: string, opts?: WithDefault<number>): number;
  /** true/false (1/0 accepted); unset is false unless a default says otherwise. */
  flag(key: string, opts?: WithDefault<boolean>): boolean;
  /** One of the declared choices (or of `choices` for an undeclared key). */
  oneOf<const T extends string>(key: string, choices?: readonly T[], opts?: WithDefault<T>): T;
  /** A non-empty string; `describe` replaces "a non-empty string" in the error. */
  string(key: string, opts?: WithDefault<string> & { describe?: string }): string;
  /** An absolute path: the value resolved against the project root. `what` names it in errors ("folder", "file"). */
  path(key: string, what?: string): string;
  /** Like `path`, but unset (or false) means "none": undefined. */
  optionalPath(key: string, what?: string): string | undefined;
  /** Runs a parser of the value's own (which names the key in its errors) after the declared-key check (and the declared rule, if any). */
  parse<T>(key: string, parser: (value: unknown) => T): T;
}

/** `ctx` needs `params`, `root` (for paths) and `stage` (for the "declare it" hint); `rules` is the stage's declaration. */
export function readParams(ctx: Pick<StageContext, 'params' | 'root' | 'stage'>, rules: ParamRules = {}): ParamReader {
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
    throw new ParamError(
      key,
      `${who} reads param ${key} but does not declare it: add ${key} to the params: list of ${who} in pipeline.yaml`,
    );
  };

  /** The declared rule when there is one (it must be of the kind read), else the call site's. */
  const ruleFor = <K extends ParamRule['kind']>(
    key: string,
    kind: K,
    inline: () => Extract<ParamRule, { kind: K }>,
  ): Extract<ParamRule, { kind: K }> => {
    const declared = Object.hasOwn(rules, key) ? rules[key] : undefined;
    if (!declared) return inline();
    if (declared.kind !== kind) throw new Error(`param ${key} is declared as ${declared.kind} but read as ${kind}`);
    return declared as Extract<ParamRule, { kind: K }>;
  };

  const read = (key: string, rule: ParamRule): unknown => {
    const checked = checkParam(key, rule, lookup(key));
    if (!checked.ok) throw new ParamError(key, checked.message);
    return checked.value;
  };

  const numeric = (key: string, inline: NumberRule & WithDefault<number>, integer: boolean): number =>
    read(
      key,
      ruleFor(key, 'number', () => ({ kind: 'number', description: '', integer, ...inline })),
    ) as number;

  return {
    isSet: (key) => !isUnset(lookup(key)),
    value: (key) => lookup(key),
    number: (key, rule = {}) => numeric(key, rule, false),
    integer: (key, rule = {}) => numeric(key, rule, true),
    positiveInt: (key, opts = {}) => numeric(key, { ...opts, min: 1 }, true),
    flag: (key, opts = {}) =>
      read(
        key,
        ruleFor(key, 'flag', () => ({ kind: 'flag', description: '', ...opts })),
      ) as boolean,
    oneOf: <const T extends string>(key: string, choices: readonly T[] = [], opts: WithDefault<T> = {}) =>
      read(
        key,
        ruleFor(key, 'choice', () => ({ kind: 'choice', description: '', choices, ...opts })),
      ) as T,
    string: (key, opts = {}) =>
      read(
        key,
        ruleFor(key, 'string', () => ({
          kind: 'string',
          description: '',
          default: opts.default,
          ...(opts.describe ? { expects: opts.describe } : {}),
        })),
      ) as string,
    path: (key, what = 'path') =>
      path.resolve(
        root,
        read(
          key,
          ruleFor(key, 'path', () => ({ kind: 'path', description: '', what })),
        ) as string,
      ),
    optionalPath(key, what = 'path') {
      const value = read(
        key,
        ruleFor(key, 'path', () => ({ kind: 'path', description: '', what, optional: true })),
      );
      return value === undefined ? undefined : path.resolve(root, value as string);
    },
    parse(key, parser) {
      const declared = Object.hasOwn(rules, key) ? rules[key] : undefined;
      return parser(declared ? read(key, declared) : lookup(key));
    },
  };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "a number > 0", "an integer ≥ 1", "a number in [0, 1)". */
export function describeNumber(r: NumberRule, integer = false): string {
  return describeNumberRule({ ...r, integer } satisfies Omit<DeclaredNumberRule, 'kind' | 'description'>);
}
