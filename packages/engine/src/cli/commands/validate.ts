/** `pipeline validate`: check the file and the graph; run nothing. */
import path from 'node:path';
import { loadGraph } from '../../graph/load-graph.ts';
import { diagnosticsToJson } from '../../logging/diagnostic.ts';
import { parseOptions, printDiagnostics } from '../options.ts';

const usage = `Usage: pipeline validate [options]

Checks pipeline.yaml against the schema, its params, --set overrides and
interpolations, module paths, every param value against the rules its stages
declare (<stage>.params.ts), and the graph (duplicate outs, missing deps,
cycles). Prints every problem with its line and column; exit code 1 if any.`;

export default async function validate(argv: string[]): Promise<number> {
  const options = parseOptions(argv, { usage });
  if (!options.ok) return options.exitCode;
  const result = await loadGraph(options.file, { set: options.set });
  const shown = path.relative(process.cwd(), options.file) || options.file;
  if (options.json) {
    const diagnostics = result.ok ? result.warnings : result.diagnostics;
    const report = {
      file: shown,
      valid: result.ok,
      stages: result.ok ? result.graph.order.length : undefined,
      diagnostics: diagnosticsToJson(diagnostics),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return result.ok ? 0 : 1;
  }
  if (!result.ok) {
    printDiagnostics(result.diagnostics);
    return 1;
  }
  printDiagnostics(result.warnings);
  const count = result.graph.order.length;
  process.stdout.write(`${shown} is valid: ${count} stage${count === 1 ? '' : 's'}\n`);
  return 0;
}
