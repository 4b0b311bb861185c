/** Test helpers: a throw-away project folder, and the real CLI run in it as a child process. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const cliPath = fileURLToPath(new URL('../../packages/engine/bin/pipeline.js', import.meta.url));
const created: string[] = [];

/** A temp folder holding `files` (path → content); removed by `cleanupProjects`. */
export function makeProject(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'pipeline-config-'));
  created.push(root);
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, name);
    if (!file.startsWith(root + path.sep)) throw new Error(`fixture file ${name} would lie outside the temp folder`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return root;
}

export function cleanupProjects(): void {
  for (const root of created.splice(0)) rmSync(root, { recursive: true, force: true });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/pipeline.js …args` in `cwd`, without colours. */
export function runCli(cwd: string, args: string[]): CliResult {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Joins lines so fixtures read like the files they stand for. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}
