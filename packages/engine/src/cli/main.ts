/**
 * The `pipeline` command line: one registry of commands, each imported only
 * when used so that `pipeline run` never pays for what `pipeline dag` needs.
 * Commands return an exit code; only start.ts (called by bin/pipeline.js) touches the process.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startFolderPrefetch } from '../fingerprint/folder-prefetch.ts';
import { didYouMean } from '../config/did-you-mean.ts';
import { PipelineError } from '../errors.ts';
import { packageFile } from '../package-files.ts';
import { pipelineFileIn, printDiagnostics } from './options.ts';

type CommandModule = { default: (argv: string[]) => Promise<number> };

interface Command {
  summary: string;
  load: () => Promise<CommandModule>;
  /** Hashes the project's folders: their scans start before the command loads (fingerprint/folder-prefetch.ts). */
  hashesFolders?: true;
}

const commands: Record<string, Command> = {
  run: {
    summary: 'run the stale stages of the targets and their upstream (all stages without targets)',
    load: () => import('./commands/run.ts'),
    hashesFolders: true,
  },
  status: {
    summary: 'show each stage as up to date, stale or restorable, with reasons',
    load: () => import('./commands/status.ts'),
    hashesFolders: true,
  },
  dag: { summary: 'draw the stage graph (plain, --mermaid or --dot)', load: () => import('./commands/dag.ts') },
  push: {
    summary: 'upload the runs pipeline.lock names to the remote cache (--all-runs: every local run)',
    load: () => import('./commands/push.ts'),
  },
  pull: {
    summary: 'download the runs pipeline.lock names from the remote cache into the local run cache',
    load: () => import('./commands/pull.ts'),
  },
  gc: {
    summary: 'remove run-cache and stage-cache files no lock entry needs and no recent run used',
    load: () => import('./commands/gc.ts'),
  },
  validate: { summary: 'check pipeline.yaml and the graph, run nothing', load: () => import('./commands/validate.ts') },
  metrics: {
    summary: 'show metric values (workspace or recorded runs) or diff them',
    load: () => import('./commands/metrics.ts'),
  },
  sweep: {
    summary: 'run a grid of param values side by side (--set key=a,b), table + comparison page',
    load: () => import('./commands/sweep.ts'),
  },
  compare: {
    summary: 'write the comparison page (HTML) of recorded runs or of a sweep',
    load: () => import('./commands/compare.ts'),
  },
  params: {
    summary: 'list every param the stages read (value, rule, default, description); `params diff` compares runs',
    load: () => import('./commands/params.ts'),
  },
  init: {
    summary: 'write a new project (pipeline.yaml, a module stage with a param rule, a shell stage, tsconfig.json)',
    load: () => import('./commands/init.ts'),
  },
};

export function helpText(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const list = Object.entries(commands)
    .map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
    .join('\n');
  return `Usage: pipeline <command> [options]

Runs a declarative build graph described in pipeline.yaml.

Commands:
${list}

Run \`pipeline <command> --help\` for the options of a command.
Global: -h, --help   show this help;   --version   print the version`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    const hint = didYouMean(name, Object.keys(commands));
    const what = name.startsWith('-') ? `unknown option ${name}` : `unknown command "${name}"`;
    process.stderr.write(
      `error: ${what}\n${hint ? `hint: ${hint}\n` : ''}Run \`pipeline --help\` for the list of commands.\n`,
    );
    return 2;
  }
  try {
    if (command.hashesFolders && !rest.includes('--help') && !rest.includes('-h'))
      startFolderPrefetch(join(dirname(pipelineFileIn(rest)), '.pipeline', 'state.json'));
    const module = await command.load();
    return await module.default(rest);
  } catch (error) {
    return reportCrash(name, error);
  }
}

/** Last line of defence: typed errors print their diagnostics; anything else is a bug, shown with its stack. */
function reportCrash(command: string, error: unknown): number {
  if (error instanceof PipelineError) {
    if (error.diagnostics.length) printDiagnostics(error.diagnostics);
    else process.stderr.write(`error: ${error.message}\n`);
    return 1;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`internal error in \`pipeline ${command}\`:\n${stack}\n`);
  return 70;
}

function version(): string {
  const manifest = JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string };
  return manifest.version;
}
