/**
 * The `sweeps:` block: named grids that `pipeline sweep <name>` runs.
 *
 * Each value is kept as YAML text, the form `--set` takes, so a declared sweep
 * and one typed on the command line go through the same grid and overrides.
 *
 * A sweep that names a param the file no longer has (after `train.lr: {adam: …}`
 * became `train.lr: 0.001`, say) is a warning, not an error: it must not stop
 * `pipeline run`. `pipeline sweep <name>` refuses that one sweep with the same
 * words as errors. Shape errors (a value that is not a list…) are the schema's.
 */
import { stringify } from 'yaml';
import { diagnostic, type Diagnostic } from '../errors.ts';
import { isMapping, lookupParam, unknownParamHint, type Params } from './params.ts';
import type { SweepDeclaration } from './pipeline.ts';
import type { YamlSource } from './yaml-source.ts';

export function resolveSweeps(
  raw: unknown,
  params: Params,
  source: YamlSource,
  warnings: Diagnostic[],
): Map<string, SweepDeclaration> {
  const sweeps = new Map<string, SweepDeclaration>();
  if (!isMapping(raw)) return sweeps; // absent, or already reported by the schema
  for (const [name, body] of Object.entries(raw)) {
    if (!isMapping(body) || !isMapping(body.set)) continue;
    const at = ['sweeps', name];
    const set: Array<[string, string[]]> = [];
    const problems: Diagnostic[] = [];
    for (const [key, values] of Object.entries(body.set)) {
      if (!Array.isArray(values) || values.length === 0) continue;
      const texts = values.map(asYamlText);
      set.push([key, texts]);
      if (!lookupParam(params, key).found)
        problems.push(
          diagnostic(
            'unknown-param',
            `sweep "${name}" sets param "${key}", which pipeline.yaml does not declare`,
            source.spanOfKey([...at, 'set', key]),
            unknownParamHint(params, key),
          ),
        );
      const repeated = texts.findIndex((text, index) => texts.indexOf(text) !== index);
      if (repeated >= 0)
        problems.push(
          diagnostic(
            'schema',
            `sweep "${name}" lists ${key} = ${texts[repeated]} twice`,
            source.spanOfValue([...at, 'set', key, repeated]),
          ),
        );
    }
    if (problems.length === 0 && !set.some(([, texts]) => texts.length > 1))
      problems.push(
        diagnostic(
          'schema',
          `sweep "${name}" has nothing to sweep: every param in its set has one value`,
          source.spanOfKey(at),
          'list two or more values for at least one param, e.g. train.lr: [0.001, 0.01]',
        ),
      );
    sweeps.set(name, {
      name,
      description: typeof body.description === 'string' ? body.description : undefined,
      set,
      metric: typeof body.metric === 'string' ? body.metric : undefined,
      maximize: body.max === true,
      jobs: typeof body.jobs === 'number' ? body.jobs : undefined,
      problems,
    });
    warnings.push(
      ...problems.map((problem): Diagnostic => ({
        ...problem,
        severity: 'warning',
        hint: [problem.hint, `\`pipeline sweep ${name}\` refuses to run until this is fixed`]
          .filter(Boolean)
          .join('; '),
      })),
    );
  }
  return sweeps;
}

/** One line of YAML that reads back as the same value (`0.001`, `"a,b"`, `[ 0.8, 1.2 ]`). */
function asYamlText(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trimEnd();
}
