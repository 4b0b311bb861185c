/**
 * The engine installed as a user would: `npm pack` of packages/engine, installed into a fresh `npm init -y` project
 * (from npm's cache where it can, else the registry), then `pipeline init`, `pipeline run` and `tsc --noEmit` on the
 * scaffold through the package's declarations. Nothing of the Dogs-vs-Cats job's ML stack comes along.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ENGINE = fileURLToPath(new URL('../../packages/engine/', import.meta.url));
const { version: TYPESCRIPT } = JSON.parse(
  readFileSync(new URL('../../node_modules/typescript/package.json', import.meta.url), 'utf8'),
) as { version: string };
const { version: NODE_TYPES } = JSON.parse(
  readFileSync(new URL('../../node_modules/@types/node/package.json', import.meta.url), 'utf8'),
) as { version: string };

// Not the repository's npm settings (npm run passes them down as npm_* variables): the project stands alone.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

function sh(command: string, args: string[], cwd: string) {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...env, CI: '1' } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}

describe('the engine package installed into a fresh project', () => {
  let dir: string;
  let project: string;
  let install: ReturnType<typeof sh>;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pipeline-package-'));
    project = path.join(dir, 'my-project');
    // dist/ is built by pretest (the built-engine test checks it is current); packing again would only rebuild it.
    const pack = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ENGINE);
    assert.equal(pack.code, 0, pack.all);
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    sh('mkdir', [project], dir);
    assert.equal(sh('npm', ['init', '-y'], project).code, 0);
    install = sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, filename)], project);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('installs with no error and nothing alarming, and without any ML package', () => {
    assert.equal(install.code, 0, install.all);
    // npm's one notice that esbuild (tsx's, for TypeScript stages) has an install script is expected; nothing else.
    const warnings = install.stderr
      .split('\n')
      .filter((line) => line.trim() && !/^npm warn install-scripts/.test(line));
    assert.deepEqual(warnings, [], install.stderr);
    const modules = readdirSync(path.join(project, 'node_modules'));
    assert.ok(modules.includes('pipeline-ml-engine'));
    for (const ml of ['onnxruntime-node', 'onnxruntime-common', 'sharp', '@tensorflow', '@img'])
      assert.ok(!modules.includes(ml), `${ml} was installed`);
  });

  test("`pipeline init` then `pipeline run` runs the scaffold's module stage", () => {
    const init = sh('npx', ['pipeline', 'init'], project);
    assert.equal(init.code, 0, init.all);
    assert.match(init.stdout, /^Next:$/m);
    assert.equal(init.stderr, '');
    const run = sh('npx', ['pipeline', 'run'], project);
    assert.equal(run.code, 0, run.all);
    assert.deepEqual(JSON.parse(readFileSync(path.join(project, 'artifacts/report.json'), 'utf8')), {
      the: 3,
      brown: 1,
      dog: 1,
    });
    assert.equal(run.stderr, '');
    const again = sh('npx', ['pipeline', 'init'], project);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /not overwriting what is there already: pipeline\.yaml, stages\/report\.params\.ts, stages\/report\.ts, tsconfig\.json/,
    );
  });

  test("a param value against the scaffold's declared rule is refused before anything runs", () => {
    const invalid = sh('npx', ['pipeline', 'validate', '--set', 'report.top=0'], project);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /report\.top must be an integer ≥ 1, got 0/);
  });

  test("`tsc --noEmit` type-checks the scaffold against the package's declarations, and catches a wrong stage", () => {
    const dev = sh(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--save-dev',
        `typescript@${TYPESCRIPT}`,
        `@types/node@${NODE_TYPES}`,
      ],
      project,
    );
    assert.equal(dev.code, 0, dev.all);
    const checked = sh('npx', ['tsc', '--noEmit'], project);
    assert.equal(checked.code, 0, checked.all);
    const stage = path.join(project, 'stages/report.ts');
    const source = readFileSync(stage, 'utf8');
    writeFileSync(stage, source.replace('const [wordsFile] = ctx.deps;', 'const [wordsFile] = ctx.depz;'));
    const wrong = sh('npx', ['tsc', '--noEmit'], project);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stdout, /Property 'depz' does not exist on type 'StageContext'/);
    writeFileSync(stage, source);
    assert.ok(existsSync(path.join(project, 'node_modules/pipeline-ml-engine/dist/index.d.ts')));
  });
});
