/**
 * Declared params: the rules a module stage gives for the params it reads
 * (`stages/train.ts` → `stages/train.params.ts`, default export, see
 * src/contract.ts), loaded without importing the stage itself, and every value
 * checked against them before any stage starts.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { checkParam, type ParamRule, type ParamRules } from '../param-rules.ts';
import { diagnostic, type Diagnostic, type SourceSpan } from '../errors.ts';
import { closestMatch } from './did-you-mean.ts';
import { isMapping, lookupParam, type Params } from './params.ts';
import { importTypeScript } from './typescript-import.ts';
import type { ResolvedStage } from './pipeline.ts';
import type { YamlSource } from './yaml-source.ts';

export type DeclaredParams = NonNullable<ResolvedStage['declaredParams']>;

const RULE_KINDS = new Set<ParamRule['kind']>(['number', 'flag', 'choice', 'string', 'path', 'names']);

/** `stages/train.ts` → `stages/train.params.ts`. */
export function declarationFileOf(module: string): string {
  return module.replace(/\.(m|c)?[jt]s$/, '') + '.params.ts';
}

/**
 * The declaration next to a module stage: undefined when there is none, a
 * problem when it cannot be imported or is not a mapping of rules.
 */
export async function loadDeclaredParams(
  root: string,
  module: string,
): Promise<{ declared?: DeclaredParams; problem?: string }> {
  const file = declarationFileOf(module);
  const absolute = path.resolve(root, file);
  const exists = await stat(absolute).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!exists) return {};
  let loaded: { default?: unknown };
  try {
    loaded = (await importTypeScript(absolute, root)) as { default?: unknown };
  } catch (error) {
    return { problem: `${file} cannot be loaded: ${firstLine(error)}` };
  }
  // A file compiled as CommonJS (no "type": "module" above it) arrives wrapped once more.
  const rules =
    isMapping(loaded.default) && isMapping(loaded.default.default) && !('kind' in loaded.default.default)
      ? loaded.default.default
      : loaded.default;
  if (!isMapping(rules))
    return {
      problem: `${file} must default-export its rules: export default defineParams({ 'key': param.number({…}), … })`,
    };
  for (const [key, rule] of Object.entries(rules)) {
    if (!isMapping(rule) || !RULE_KINDS.has(rule.kind as ParamRule['kind']) || typeof rule.description !== 'string')
      return {
        problem: `${file}: the rule of "${key}" is not a param rule (build it with param.number, param.oneOf, … from src/contract.ts)`,
      };
  }
  return { declared: { file, rules: rules as ParamRules } };
}

export interface CheckContext {
  params: Params;
  /** Overridden key → the `--set` argument that set it. */
  overrides: ReadonlyMap<string, string>;
  source: YamlSource;
}

/**
 * Every declared rule of every stage against the value it will get: all
 * problems, each once (stages sharing a param share its rule), located in
 * pipeline.yaml or naming the `--set` flag.
 */
export function checkDeclaredParams(stages: Iterable<ResolvedStage>, ctx: CheckContext): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const reported = new Set<string>();
  for (const stage of stages) {
    const declared = stage.declaredParams;
    if (!declared) continue;
    for (const [key, rule] of Object.entries(declared.rules)) {
      if (!listsParam(stage, key)) {
        const id = `unlisted ${stage.name} ${key}`;
        if (!reported.has(id)) {
          reported.add(id);
          diagnostics.push(
            diagnostic(
              'unknown-param',
              `stage "${stage.name}" reads param "${key}" (${declared.file}) but its params: list does not name it`,
              stage.spans.params ?? stage.spans.stage,
              `add ${key} to the params: list of stage "${stage.name}" (only listed params reach a stage and count in its fingerprint)`,
            ),
          );
        }
      }
      const lookup = lookupParam(ctx.params, key);
      const checked = checkParam(key, rule, lookup.found ? lookup.value : undefined);
      if (checked.ok || reported.has(checked.message)) continue;
      reported.add(checked.message);
      const flag = overridingFlag(key, ctx.overrides);
      const hint = ruleHint(key, rule, lookup.found ? lookup.value : undefined, declared.file);
      if (flag) diagnostics.push(diagnostic('bad-param', `${flag}: ${checked.message}`, undefined, hint));
      else diagnostics.push(diagnostic('bad-param', checked.message, valueSpan(ctx.source, key), hint));
    }
  }
  return diagnostics;
}

/** Whether the stage's params (declared or interpolated) include the key or a subtree holding it. */
function listsParam(stage: ResolvedStage, key: string): boolean {
  // The list as written: a listed key missing from pipeline.yaml gets its own error ("does not declare").
  return [...stage.listedParams, ...Object.keys(stage.params)].some(
    (listed) => key === listed || key.startsWith(`${listed}.`),
  );
}

/** The `--set` argument that gave the key (or a subtree holding it) its value. */
function overridingFlag(key: string, overrides: ReadonlyMap<string, string>): string | undefined {
  for (const [overridden, flag] of overrides) if (key === overridden || key.startsWith(`${overridden}.`)) return flag;
  return undefined;
}

function valueSpan(source: YamlSource, key: string): SourceSpan {
  return source.spanOfValue(['params', ...key.split('.')]);
}

/** A close choice when there is one, else what the param is for and where its rule lives. */
function ruleHint(key: string, rule: ParamRule, value: unknown, file: string): string {
  if (rule.kind === 'choice' && typeof value === 'string') {
    const match = closestMatch(value, rule.choices);
    if (match !== undefined) return `did you mean "${match}"? allowed: ${rule.choices.join(', ')}`;
  }
  const fallback = rule.default !== undefined ? `; empty = ${JSON.stringify(rule.default)}` : '';
  return `${key}: ${rule.description}${fallback} (rule in ${file})`;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0].trim();
}
