/**
 * Option parsing shared by every command (node:util parseArgs): `-f/--file`,
 * `--set key=value` (repeatable), `--json`, `-h/--help`, plus the command's own.
 */
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../config/did-you-mean.ts';
import type { Diagnostic } from '../errors.ts';
import { formatDiagnostics } from '../logging/diagnostic.ts';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec {
  /** Full help text printed for `-h/--help` (usage line, description, command options). */
  usage: string;
  /** The command's own options, in parseArgs form. */
  options?: OptionSpecs;
  allowPositionals?: boolean;
}

export type ParsedOptions =
  | {
      ok: true;
      /** Absolute path of the pipeline file. */
      file: string;
      set: string[];
      json: boolean;
      /** Every option value, the command's own included. */
      values: Record<string, string | boolean | Array<string | boolean> | undefined>;
      positionals: string[];
    }
  | { ok: false; exitCode: number };

export const sharedOptions = {
  file: { type: 'string', short: 'f' },
  set: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpecs;

export const sharedOptionsHelp = `Options for every command:
  -f, --file <path>     pipeline file (default: pipeline.yaml in the current folder)
  --set <key=value>     override a param for this invocation (repeatable), e.g. --set train.lr=0.0003
  --json                machine-readable output on stdout
  -h, --help            show this help`;

export function parseOptions(argv: readonly string[], spec: CommandSpec): ParsedOptions {
  const options = { ...sharedOptions, ...spec.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: spec.allowPositionals ?? false, strict: true });
  } catch (error) {
    const command = /^Usage: (pipeline \w+)/.exec(spec.usage)?.[1] ?? 'pipeline';
    process.stderr.write(`${usageError(error as Error, options)}\nRun \`${command} --help\` for its options.\n`);
    return { ok: false, exitCode: 2 };
  }
  if (parsed.values.help) {
    process.stdout.write(`${spec.usage}\n\n${sharedOptionsHelp}\n`);
    return { ok: false, exitCode: 0 };
  }
  const values = parsed.values as Record<string, string | boolean | Array<string | boolean> | undefined>;
  return {
    ok: true,
    file: pipelineFile(values.file),
    set: (values.set as string[] | undefined) ?? [],
    json: values.json === true,
    values,
    positionals: parsed.positionals,
  };
}

/**
 * The pipeline file `argv` names, read before the command parses its options (which may be wrong: the command
 * reports that). For work started ahead of the command, such as folder-prefetch.ts.
 */
export function pipelineFileIn(argv: readonly string[]): string {
  const { values } = parseArgs({ args: [...argv], options: sharedOptions, allowPositionals: true, strict: false });
  return pipelineFile(values.file);
}

function pipelineFile(value: unknown): string {
  return path.resolve(typeof value === 'string' ? value : 'pipeline.yaml');
}

/** parseArgs' message, reworded, with a "did you mean" for a misspelt option. */
function usageError(error: Error, options: OptionSpecs): string {
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(error.message)?.[1];
  if (unknown) {
    const names = Object.entries(options).flatMap(([long, o]) => [`--${long}`, ...(o.short ? [`-${o.short}`] : [])]);
    const hint = didYouMean(unknown, names);
    return `error: unknown option ${unknown}${hint ? `\nhint: ${hint}` : ''}`;
  }
  return `error: ${error.message.split('\n')[0]}`;
}

/** Diagnostics to stderr, coloured on a terminal unless NO_COLOR is set. */
export function printDiagnostics(diagnostics: readonly Diagnostic[]): void {
  if (diagnostics.length === 0) return;
  const color = process.stderr.isTTY === true && !process.env.NO_COLOR;
  process.stderr.write(`${formatDiagnostics(diagnostics, { color })}\n`);
}

/** The shell's convention for a run stopped by a signal: 130 after Ctrl-C, 143 after SIGTERM. */
export function interruptExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}
