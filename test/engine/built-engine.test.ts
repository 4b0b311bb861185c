/**
 * bin/pipeline.js runs the engine compiled into packages/engine/dist/ (`npm run build`, run by `prepare` and
 * `pretest`); stage modules and their param declarations are never part of that build: each call takes them from
 * their source as it is then.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ENGINE = fileURLToPath(new URL('../../packages/engine/', import.meta.url));
const CLI = path.join(ENGINE, 'bin/pipeline.js');
const CONTRACT = path.join(ENGINE, 'src/contract.ts');

describe('the built engine', () => {
  test('dist/ is built from the sources as they are (else: npm run build)', () => {
    const stale = readdirSync(path.join(ENGINE, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .filter((file) => {
        const built = path.join(ENGINE, 'dist', file.replace(/\.ts$/, '.js'));
        try {
          return statSync(built).mtimeMs < statSync(path.join(ENGINE, 'src', file)).mtimeMs;
        } catch {
          return true;
        }
      });
    assert.deepEqual(stale, [], 'sources newer than their build, or not built: run `npm run build`');
  });

  test('a module stage runs from its TypeScript source: an edited stage never runs stale', () => {
    const project = mkdtempSync(path.join(tmpdir(), 'pipeline-built-project-'));
    try {
      writeFileSync(
        path.join(project, 'pipeline.yaml'),
        'stages:\n  hello:\n    module: hello.ts\n    outs: [out.txt]\n',
      );
      const stage = (word: string) =>
        `import { writeFile } from 'node:fs/promises';\nimport { defineStage } from '${CONTRACT}';\n` +
        `export default defineStage({ async run(ctx) { await writeFile(ctx.outs[0], '${word}'); } });\n`;
      writeFileSync(path.join(project, 'hello.ts'), stage('one'));
      const run = () =>
        spawnSync(process.execPath, [CLI, 'run'], { cwd: project, encoding: 'utf8', env: { ...process.env, CI: '1' } });
      assert.equal(run().status, 0);
      assert.equal(readFileSync(path.join(project, 'out.txt'), 'utf8'), 'one');
      writeFileSync(path.join(project, 'hello.ts'), stage('two'));
      const second = run();
      assert.equal(second.status, 0, second.stderr);
      assert.match(second.stdout, /code changed: hello\.ts/);
      assert.equal(readFileSync(path.join(project, 'out.txt'), 'utf8'), 'two');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  test("a stage's param declaration is compiled (the engine runs without tsx) and recompiled when it or a file it imports changes", () => {
    const project = mkdtempSync(path.join(tmpdir(), 'pipeline-built-params-'));
    try {
      const contract = CONTRACT;
      writeFileSync(
        path.join(project, 'pipeline.yaml'),
        'params:\n  size: 5\nstages:\n  s:\n    module: s.ts\n    params: [size]\n    outs: [out.txt]\n',
      );
      writeFileSync(
        path.join(project, 's.ts'),
        `import { defineStage } from '${contract}';\nexport default defineStage({ async run() {} });\n`,
      );
      writeFileSync(path.join(project, 'limits.ts'), 'export const MAX = 3;\n');
      writeFileSync(
        path.join(project, 's.params.ts'),
        `import { defineParams, param } from '${contract}';\nimport { MAX } from './limits.ts';\n` +
          "export default defineParams({ size: param.integer({ max: MAX, description: 'how big' }) });\n",
      );
      const validate = () =>
        spawnSync(process.execPath, [CLI, 'validate'], {
          cwd: project,
          encoding: 'utf8',
          env: { ...process.env, CI: '1' },
        });
      const first = validate();
      assert.equal(first.status, 1);
      assert.match(first.stderr, /pipeline\.yaml:2:9: size must be an integer ≤ 3, got 5/);
      writeFileSync(path.join(project, 'limits.ts'), 'export const MAX = 10;\n'); // an import of the declaration, not the declaration itself
      const second = validate();
      assert.equal(second.status, 0, second.stderr);
      writeFileSync(path.join(project, 's.params.ts'), 'export default {{ not typescript\n');
      const third = validate();
      assert.equal(third.status, 1);
      assert.match(third.stderr, /s\.params\.ts cannot be loaded: .*s\.params\.ts:1:\d+: /);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
