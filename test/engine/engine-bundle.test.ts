/**
 * bin/pipeline.js runs the engine from a bundle of src/ (dist/engine/<stamp>/). An edit to any engine
 * source must show up on the very next call, never a stale bundle; stage modules are not bundled at all.
 * Driven on a copy of the package so the repo's own src/ and dist/ are left alone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

describe('the engine bundle', () => {
  let pkg: string;
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(pkg, 'packages/engine/bin/pipeline.js'), ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
  };
  const bundles = () => readdirSync(path.join(pkg, 'dist/engine')).filter((name) => !name.includes('.tmp-'));

  before(() => {
    pkg = mkdtempSync(path.join(tmpdir(), 'pipeline-bundle-'));
    for (const part of ['bin', 'src', 'schemas', 'package.json']) cpSync(path.join(REPO, part), path.join(pkg, part), { recursive: true });
    symlinkSync(path.join(REPO, 'node_modules'), path.join(pkg, 'node_modules'));
  });
  after(() => rmSync(pkg, { recursive: true, force: true }));

  test('is built on the first call and reused while src/ is unchanged', () => {
    assert.deepEqual(cli('--version'), { code: 0, stdout: '0.1.0', stderr: '' });
    assert.equal(bundles().length, 1, 'one bundle built');
    const [first] = bundles();
    assert.equal(cli('--version').stdout, '0.1.0');
    assert.deepEqual(bundles(), [first], 'no rebuild without an edit');
  });

  test('an edited engine source is picked up on the next call', () => {
    const main = path.join(pkg, 'src/cli/main.ts');
    const source = readFileSync(main, 'utf8');
    assert.ok(source.includes('return manifest.version;'));
    writeFileSync(main, source.replace('return manifest.version;', "return `${manifest.version}-edited`;"));
    assert.equal(cli('--version').stdout, '0.1.0-edited');
    assert.equal(bundles().length, 2, 'a new bundle beside the old one (kept a day for runs still using it)');
  });

  test('a module stage runs from its source: the runner is never bundled', () => {
    const project = mkdtempSync(path.join(tmpdir(), 'pipeline-bundle-project-'));
    try {
      writeFileSync(path.join(project, 'pipeline.yaml'), 'stages:\n  hello:\n    module: hello.ts\n    outs: [out.txt]\n');
      const stage = (word: string) =>
        `import { writeFile } from 'node:fs/promises';\nimport { defineStage } from '${path.join(pkg, 'src/contract.ts')}';\n` +
        `export default defineStage({ async run(ctx) { await writeFile(ctx.outs[0], '${word}'); } });\n`;
      writeFileSync(path.join(project, 'hello.ts'), stage('one'));
      const run = () => spawnSync(process.execPath, [path.join(pkg, 'packages/engine/bin/pipeline.js'), 'run'], { cwd: project, encoding: 'utf8', env: { ...process.env, CI: '1' } });
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

  test('a stage\'s param declaration is compiled for the bundle and recompiled when it or a file it imports changes', () => {
    const project = mkdtempSync(path.join(tmpdir(), 'pipeline-bundle-params-'));
    try {
      const contract = path.join(pkg, 'src/contract.ts');
      writeFileSync(path.join(project, 'pipeline.yaml'), 'params:\n  size: 5\nstages:\n  s:\n    module: s.ts\n    params: [size]\n    outs: [out.txt]\n');
      writeFileSync(path.join(project, 's.ts'), `import { defineStage } from '${contract}';\nexport default defineStage({ async run() {} });\n`);
      writeFileSync(path.join(project, 'limits.ts'), 'export const MAX = 3;\n');
      writeFileSync(
        path.join(project, 's.params.ts'),
        `import { defineParams, param } from '${contract}';\nimport { MAX } from './limits.ts';\n` +
          "export default defineParams({ size: param.integer({ max: MAX, description: 'how big' }) });\n",
      );
      const validate = () => spawnSync(process.execPath, [path.join(pkg, 'packages/engine/bin/pipeline.js'), 'validate'], { cwd: project, encoding: 'utf8', env: { ...process.env, CI: '1' } });
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

  test('each command runs from the code cache its first call left; a damaged cache is replaced', () => {
    const built = (name: string) => statSync(path.join(pkg, 'dist/engine', name, 'main.cjs')).mtimeMs;
    const current = bundles().sort((a, b) => built(a) - built(b)).at(-1)!; // the edited engine's, since the test above
    const cache = path.join(pkg, 'dist/engine', current, 'main.other.cache');
    rmSync(cache, { force: true });
    const { stdout: version } = cli('--version'); // 0.1.0-edited, since the test above
    const written = readFileSync(cache);
    assert.ok(written.length > 10_000, 'the cache holds the compiled engine');
    assert.deepEqual(cli('--version'), { code: 0, stdout: version, stderr: '' });
    assert.ok(readFileSync(cache).equals(written), 'an accepted cache is left as it is');
    writeFileSync(cache, 'not a code cache');
    assert.deepEqual(cli('--version'), { code: 0, stdout: version, stderr: '' });
    assert.ok(readFileSync(cache).length > 10_000, 'V8 rejected the damaged cache and a new one was written');
  });

  test('"import(" in a string of src/ would be rewritten with the calls: the bundle is refused and the engine runs from source', () => {
    const main = path.join(pkg, 'src/cli/main.ts');
    const source = readFileSync(main, 'utf8');
    try {
      writeFileSync(main, source.replace('Runs a declarative build graph', 'Runs (not an import(x) call) a declarative build graph'));
      const r = spawnSync(process.execPath, [path.join(pkg, 'packages/engine/bin/pipeline.js'), '--help'], { encoding: 'utf8', env: { ...process.env, CI: '1', PIPELINE_DEBUG: '1' } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Runs \(not an import\(x\) call\) a declarative build graph/);
      assert.match(r.stderr, /engine bundle unavailable \(cannot bundle the engine as a script: "import\(" in a string or name of src\/\); running from source/);
    } finally {
      writeFileSync(main, source);
    }
  });

  test('bundled packages are imported statically: a dynamic import of one would lose its named exports', () => {
    const bundled = ['yaml']; // see `external` in bin/engine-bundle.js
    const offenders = readdirSync(path.join(REPO, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .filter((file) => bundled.some((name) => readFileSync(path.join(REPO, 'src', file), 'utf8').includes(`import('${name}')`)));
    assert.deepEqual(offenders, []);
  });
});
