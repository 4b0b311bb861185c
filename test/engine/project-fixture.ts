/**
 * Test harness: a throwaway project in a temp folder and the real CLI
 * (`node bin/pipeline.js`) run against it as a child process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StageGates } from '../stage-gate.ts';

const CLI = fileURLToPath(new URL('../../packages/engine/bin/pipeline.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class Project {
  readonly dir: string;

  constructor(files: Record<string, string>) {
    this.dir = mkdtempSync(join(tmpdir(), 'pipeline-engine-'));
    for (const [path, content] of Object.entries(files)) this.write(path, content);
  }

  path(rel: string): string {
    return join(this.dir, rel);
  }

  write(rel: string, content: string): void {
    mkdirSync(dirname(this.path(rel)), { recursive: true });
    writeFileSync(this.path(rel), content);
  }

  read(rel: string): string {
    return readFileSync(this.path(rel), 'utf8');
  }

  exists(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  /** Replace text in a file (fails loudly if the text is not there, so a test cannot silently edit nothing). */
  edit(rel: string, from: string, to: string): void {
    const text = this.read(rel);
    if (!text.includes(from)) throw new Error(`${rel} does not contain ${JSON.stringify(from)}`);
    this.write(rel, text.replace(from, to));
  }

  /** How many times each stage ran: every fixture stage appends its name to counts.txt. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    if (!this.exists('counts.txt')) return counts;
    for (const name of this.read('counts.txt').split('\n').filter(Boolean)) counts[name] = (counts[name] ?? 0) + 1;
    return counts;
  }

  /** Start the CLI without waiting (for concurrency and signal tests). */
  start(
    args: string[],
    env: Record<string, string> = {},
  ): { child: ReturnType<typeof spawn>; done: Promise<CliResult>; output: () => string } {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: this.dir,
      env: { ...process.env, CI: '1', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const done = new Promise<CliResult>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
    );
    return { child, done, output: () => stdout + stderr };
  }

  run(...args: string[]): Promise<CliResult> {
    return this.start(args).done;
  }

  /** `pipeline run --json …`, parsed; fails with the CLI's output when stdout is not JSON. */
  async runJson(
    ...args: string[]
  ): Promise<{ result: CliResult; stages: JsonStage[]; actions: Record<string, string> }> {
    const result = await this.run('run', '--json', ...args);
    let stages: JsonStage[];
    try {
      stages = JSON.parse(result.stdout) as JsonStage[];
    } catch {
      throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
    }
    return { result, stages, actions: Object.fromEntries(stages.map((s) => [s.stage, s.action])) };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface JsonStage {
  stage: string;
  action: string;
  reasons: string[];
  seconds: number;
  log?: string;
  error?: string;
  /** The failure as a value (execution/stage-failure.ts). */
  failure?: { kind: string } & Record<string, unknown>;
}

/** A project whose `pipeline.yaml` is written once the folder of its stage gates (`gates/`, inside it) is known. */
export function gatedProject(yaml: (gates: StageGates) => string): { project: Project; gates: StageGates } {
  const project = new Project({});
  const gates = new StageGates(project.path('gates'));
  project.write('pipeline.yaml', yaml(gates));
  return { project, gates };
}

/** Resolve once `check()` is true, polling; reject after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The standard fixture: prep (cmd) → train (module, imports a helper) → report (cmd),
 * plus side (cmd) independent of them. Every stage appends its name to counts.txt.
 */
export function standardProject(): Project {
  return new Project({
    'data/a.txt': 'alpha\n',
    'data/b.txt': 'beta\n',
    'pipeline.yaml': `params:
  prep:
    scale: 2
  train:
    lr: 0.001
    note: first
  unused:
    x: 1
stages:
  prep:
    cmd: echo prep >> counts.txt && mkdir -p artifacts && cat data/a.txt data/b.txt > artifacts/prep.txt && echo scale=\${params.prep.scale} >> artifacts/prep.txt
    deps: [data]
    outs: [artifacts/prep.txt]
  train:
    module: stages/train.ts
    deps: [artifacts/prep.txt]
    outs: [artifacts/model]
    params: [train.lr, train.note]
  report:
    cmd: echo report >> counts.txt && cat artifacts/model/weights.txt > artifacts/report.txt
    deps: [artifacts/model]
    outs: [artifacts/report.txt]
  side:
    cmd: echo side >> counts.txt && ls data > artifacts-side.txt
    deps: [data]
    outs: [artifacts-side.txt]
`,
    // train.note is used (declared) but does not affect the output: a change reruns train, not report.
    'stages/train.ts': `import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage } from './src-contract.ts';
import { describeModel } from './lib/describe.ts';

export default defineStage({
  async run(ctx) {
    appendFileSync(join(ctx.root, 'counts.txt'), 'train\\n');
    if (ctx.params['train.lr'] === 'boom') throw new Error('learning rate exploded');
    const input = readFileSync(ctx.deps[0], 'utf8');
    mkdirSync(ctx.outs[0], { recursive: true });
    ctx.progress({ done: 1, total: 2, metrics: { loss: 0.5 } });
    writeFileSync(join(ctx.outs[0], 'weights.txt'), describeModel(input, ctx.params['train.lr']));
    ctx.progress({ done: 2, total: 2, metrics: { loss: 0.25 } });
    ctx.log('trained');
  },
});
`,
    'stages/lib/describe.ts': `export function describeModel(input: string, lr: unknown): string {
  return \`lines=\${input.trim().split('\\n').length} lr=\${String(lr)}\\n\`;
}
`,
    // A stand-in for src/contract.ts's defineStage, so fixtures don't depend on the engine's path.
    'stages/src-contract.ts': `export function defineStage<T>(stage: T): T { return stage; }\n`,
  });
}

/** The standard fixture after one successful `pipeline run`: the starting point for failure and damage tests. */
export async function ranStandardProject(): Promise<Project> {
  const project = standardProject();
  const first = await project.run('run');
  if (first.code !== 0) throw new Error(`the first run failed (exit ${first.code}):\n${first.stderr}`);
  return project;
}
