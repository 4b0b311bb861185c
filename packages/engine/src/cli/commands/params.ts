/** `pipeline params`: every param the stages read, with its rule, default, description and current value. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeRule } from '../../param-rules.ts';
import { loadPipeline } from '../../config/load.ts';
import { isMapping, lookupParam, paramKeys } from '../../config/params.ts';
import { declaredRules, paramsSchema } from '../../config/params-schema.ts';
import type { Pipeline } from '../../config/pipeline.ts';
import { parseOptions, printDiagnostics } from '../options.ts';

const usage = `Usage: pipeline params [options]

Lists every param the stages read: its current value (after --set), the rule
its stage declares (type, range or choices; see <stage>.params.ts next to a
module stage), its default, the stages reading it and what it is for. Params
without a declared rule (read by a cmd: stage, or a stage that declares none)
are listed too. Exit code 1 when pipeline.yaml or a value is invalid.
\`pipeline params diff [A] [B]\` compares the params of two runs instead
(\`pipeline params diff --help\`).

  --schema <file>     write the rules as a JSON Schema for editors instead (to
                      the file, or to stdout with -), so pipeline.yaml's params
                      are checked as you type (npm run schema:params writes
                      schemas/params.schema.json)`;

interface ParamRow {
  key: string;
  value: unknown;
  rule?: string;
  default?: unknown;
  description?: string;
  file?: string;
  stages: string[];
}

export default async function params(argv: string[]): Promise<number> {
  if (argv[0] === 'diff') return (await import('./params-diff.ts')).default(argv);
  const options = parseOptions(argv, { usage, options: { schema: { type: 'string' } } });
  if (!options.ok) return options.exitCode;
  const loaded = await loadPipeline(options.file, { set: options.set });
  if (!loaded.ok) {
    printDiagnostics(loaded.diagnostics);
    return 1;
  }
  printDiagnostics(loaded.warnings);
  const { pipeline } = loaded;
  if (typeof options.values.schema === 'string') {
    const schemaFile = options.values.schema;
    const text = `${JSON.stringify(paramsSchema(pipeline), null, 2)}\n`;
    if (schemaFile === '-') process.stdout.write(text);
    else {
      writeFileSync(path.resolve(schemaFile), text);
      process.stderr.write(`wrote ${schemaFile}\n`);
    }
    return 0;
  }
  const rows = paramRows(pipeline);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const table = [
    ['PARAM', 'VALUE', 'RULE', 'DEFAULT', 'STAGES', 'DESCRIPTION'],
    ...rows.map((r) => [
      r.key,
      show(r.value),
      r.rule ?? '(no declared rule)',
      r.default === undefined ? '' : show(r.default),
      r.stages.join(', '),
      r.description ?? '',
    ]),
  ];
  const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)));
  for (const row of table)
    process.stdout.write(
      `${row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
        .join('  ')
        .trimEnd()}\n`,
    );
  return 0;
}

/** Declared params first (by key), then the other params stages read. */
function paramRows(pipeline: Pipeline): ParamRow[] {
  const rows: ParamRow[] = [];
  const declared = declaredRules(pipeline);
  for (const [key, { rule, file, stages }] of [...declared].sort(([a], [b]) => a.localeCompare(b))) {
    const found = lookupParam(pipeline.params, key);
    rows.push({
      key,
      value: found.found ? found.value : undefined,
      rule: describeRule(rule),
      default: rule.default,
      description: rule.description,
      file,
      stages,
    });
  }
  const undeclared = new Map<string, string[]>();
  for (const stage of pipeline.stages.values()) {
    for (const listed of Object.keys(stage.params)) {
      // A listed subtree (`augment`) stands for its leaves; those without a rule are listed here.
      const value = stage.params[listed];
      const keys = isMapping(value) ? leafKeys(value).map((k) => `${listed}.${k}`) : [listed];
      for (const key of keys) if (!declared.has(key)) undeclared.set(key, [...(undeclared.get(key) ?? []), stage.name]);
    }
  }
  for (const [key, stages] of [...undeclared].sort(([a], [b]) => a.localeCompare(b))) {
    const found = lookupParam(pipeline.params, key);
    rows.push({ key, value: found.found ? found.value : undefined, stages });
  }
  return rows;
}

/** The dotted keys of a tree's values that are not mappings themselves. */
function leafKeys(tree: Record<string, unknown>): string[] {
  return paramKeys(tree).filter((key) => {
    const found = lookupParam(tree, key);
    return !(found.found && isMapping(found.value));
  });
}

/** A value for the table; a long one (a whole subtree) is cut, `--json` has it all. */
function show(value: unknown): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 48 ? `${text.slice(0, 47)}…` : text;
}
