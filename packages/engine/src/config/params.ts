/**
 * The params tree: dotted-key lookup, the list of every key (for "did you
 * mean"), and `--set key=value` overrides.
 */
import { parse as parseYaml } from 'yaml';
import { diagnostic, type Diagnostic } from '../errors.ts';
import { didYouMean } from './did-you-mean.ts';

export type Params = Record<string, unknown>;

export type Lookup = { found: true; value: unknown } | { found: false };

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Value at a dotted key (`train.lr`); a key may name a whole subtree. */
export function lookupParam(params: Params, key: string): Lookup {
  let node: unknown = params;
  for (const part of key.split('.')) {
    if (!isMapping(node) || !Object.hasOwn(node, part)) return { found: false };
    node = node[part];
  }
  return { found: true, value: node };
}

/** Every dotted key in the tree, subtrees included, in document order. */
export function paramKeys(params: Params): string[] {
  const keys: string[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${name}` : name;
      keys.push(key);
      if (isMapping(value)) walk(value, key);
    }
  };
  walk(params, '');
  return keys;
}

/** `unknown param "train.lrr"` with a hint naming the closest existing key. */
export function unknownParamHint(params: Params, key: string): string | undefined {
  const keys = paramKeys(params);
  if (keys.length === 0) return 'the pipeline declares no params';
  return didYouMean(key, keys);
}

/**
 * Applies `--set key=value` overrides to a copy of the tree. The value is read as
 * YAML (`0.001` is a number, `true` a boolean, `[1, 2]` a list); the key must
 * already exist, so a typo cannot silently add a param nobody reads.
 */
export function applyOverrides(
  params: Params,
  overrides: readonly string[],
): {
  params: Params;
  diagnostics: Diagnostic[];
  /** overridden key → its `--set key=value` */ flags: Map<string, string>;
} {
  const result = structuredClone(params);
  const diagnostics: Diagnostic[] = [];
  const flags = new Map<string, string>();
  for (const override of overrides) {
    const eq = override.indexOf('=');
    if (eq <= 0) {
      diagnostics.push(
        diagnostic(
          'bad-set',
          `--set "${override}": expected key=value`,
          undefined,
          'for example --set train.lr=0.0003',
        ),
      );
      continue;
    }
    const key = override.slice(0, eq).trim();
    const text = override.slice(eq + 1);
    if (!lookupParam(result, key).found) {
      diagnostics.push(
        diagnostic('bad-set', `--set ${key}: no such param in pipeline.yaml`, undefined, unknownParamHint(result, key)),
      );
      continue;
    }
    let value: unknown;
    try {
      value = text.trim() === '' ? '' : parseYaml(text);
    } catch (error) {
      diagnostics.push(
        diagnostic('bad-set', `--set ${key}: cannot read value "${text}": ${(error as Error).message.split('\n')[0]}`),
      );
      continue;
    }
    const parts = key.split('.');
    let node = result;
    for (const part of parts.slice(0, -1)) node = node[part] as Params;
    node[parts.at(-1)!] = value;
    flags.set(key, `--set ${override}`);
  }
  return { params: result, diagnostics, flags };
}
