/** In-process checks of the pieces under the CLI: import scanning, canonical JSON, the hash cache, job slots. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { canonicalJson } from '../../packages/engine/src/fingerprint/canonical-json.ts';
import { moduleClosure, relativeSpecifiers } from '../../packages/engine/src/fingerprint/module-imports.ts';
import { PathHasher } from '../../packages/engine/src/fingerprint/path-hasher.ts';
import { StateStore } from '../../packages/engine/src/fingerprint/state-store.ts';
import { JobSlots } from '../../packages/engine/src/execution/job-slots.ts';

const dir = mkdtempSync(join(tmpdir(), 'pipeline-units-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('module import scanning', () => {
  test('finds static, re-export, type-only, side-effect and literal dynamic imports; ignores packages', () => {
    const source = `import fs from 'node:fs';
import { a } from './a.ts';
import type { T } from "../types.ts";
import './side-effect.ts';
export * from './re-export.ts';
export { b } from './b.js';
import {
  c,
  d,
} from './multi-line.ts';
const lazy = await import('./lazy.ts');
const notLiteral = await import(name);
import sharp from 'sharp';`;
    assert.deepEqual(relativeSpecifiers(source).sort(), [
      '../types.ts',
      './a.ts',
      './b.js',
      './lazy.ts',
      './multi-line.ts',
      './re-export.ts',
      './side-effect.ts',
    ]);
  });

  test('follows imports transitively inside the project, resolving .js to .ts and extensionless paths', () => {
    const root = join(dir, 'proj');
    mkdirSync(join(root, 'stages/lib'), { recursive: true });
    writeFileSync(
      join(root, 'stages/main.ts'),
      `import { x } from './lib/x.js';\nimport y from './lib/y';\nimport z from '../../outside.ts';`,
    );
    writeFileSync(join(root, 'stages/lib/x.ts'), `export * from './deep.ts';`);
    writeFileSync(join(root, 'stages/lib/y.ts'), `export default 1;`);
    writeFileSync(join(root, 'stages/lib/deep.ts'), `import { x } from './x.ts'; export const deep = 1;`);
    const closure = moduleClosure(root, join(root, 'stages/main.ts')).map((p) => p.slice(root.length + 1));
    assert.deepEqual(closure, ['stages/lib/deep.ts', 'stages/lib/x.ts', 'stages/lib/y.ts', 'stages/main.ts']);
  });
});

test('canonical JSON sorts keys at every depth', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } }),
    '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
  );
});

describe('hash cache', () => {
  test('an unchanged folder is answered from the state store; a touched file with the same content keeps the hash', async () => {
    const folder = join(dir, 'data');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    writeFileSync(join(folder, 'a.txt'), 'a');
    writeFileSync(join(folder, 'sub/b.txt'), 'b');
    const storeFile = join(dir, 'state.json');
    const first = await new PathHasher(StateStore.load(storeFile)).hashFolder(folder);
    assert.equal(first.kind === 'dir' && first.files, 2);

    const store = StateStore.load(storeFile);
    assert.equal(store.size, 0, 'nothing saved yet');
    const hasher = new PathHasher(store);
    await hasher.hashFolder(folder);
    store.save();
    const reloaded = StateStore.load(storeFile);
    assert.equal(reloaded.size, 2);

    const future = new Date(Date.now() + 5000);
    utimesSync(join(folder, 'a.txt'), future, future);
    const again = await new PathHasher(reloaded).hashFolder(folder);
    assert.equal(again.kind === 'dir' && again.hash, first.kind === 'dir' && first.hash);

    writeFileSync(join(folder, 'a.txt'), 'changed');
    const changed = await new PathHasher(reloaded).hashFolder(folder);
    assert.notEqual(changed.kind === 'dir' && changed.hash, first.kind === 'dir' && first.hash);
  });
});

test('job slots: at most N at once, heavy ones one at a time', async () => {
  const slots = new JobSlots(2);
  let running = 0;
  let peak = 0;
  let heavyRunning = 0;
  const job = async (heavy: boolean) => {
    const release = await slots.acquire(heavy);
    running++;
    if (heavy) heavyRunning++;
    assert.ok(heavyRunning <= 1, 'two heavy jobs at once');
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, 10));
    running--;
    if (heavy) heavyRunning--;
    release();
  };
  await Promise.all([job(true), job(true), job(false), job(false), job(true)]);
  assert.equal(peak, 2);
});
