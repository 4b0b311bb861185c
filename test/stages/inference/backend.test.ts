import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BackendUnavailableError,
  parseBackendChoice,
  selectBackend,
  type ModuleImporter,
} from '../../../stages/lib/inference/backend.ts';

/** Simulates a machine without the native TF.js packages (the CI case). */
const withoutNative: ModuleImporter = async (spec) => {
  if (spec.startsWith('@tensorflow/tfjs-node')) {
    throw Object.assign(new Error(`Cannot find package '${spec}' imported from backend.ts`), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
  }
  return import(spec);
};

test('auto falls back past absent native packages to wasm', async () => {
  const skipped: string[] = [];
  const sel = await selectBackend('auto', { importer: withoutNative, onSkip: (c) => skipped.push(c) });
  assert.equal(sel.name, 'wasm');
  assert.deepEqual(skipped, ['tensorflow-gpu', 'tensorflow']);
  assert.match(sel.skipped[0].reason, /Cannot find package '@tensorflow\/tfjs-node-gpu'/);
});

test('a native package that imports but registers no backend is skipped too', async () => {
  const brokenNative: ModuleImporter = async (spec) => (spec.startsWith('@tensorflow/tfjs-node') ? {} : import(spec));
  const sel = await selectBackend('auto', { importer: brokenNative });
  assert.equal(sel.name, 'wasm');
  assert.match(sel.skipped[1].reason, /not registered/);
});

test('auto lands on cpu when wasm fails too', async () => {
  const onlyJs: ModuleImporter = async (spec) => {
    throw new Error(`no ${spec}`);
  };
  const sel = await selectBackend('auto', { importer: onlyJs });
  assert.equal(sel.name, 'cpu');
  assert.deepEqual(
    sel.skipped.map((s) => s.candidate),
    ['tensorflow-gpu', 'tensorflow', 'wasm'],
  );
});

test('an explicit unavailable backend is a clear error saying how to install it', async () => {
  await assert.rejects(selectBackend('tensorflow', { importer: withoutNative }), (err: unknown) => {
    assert.ok(err instanceof BackendUnavailableError);
    assert.match(err.message, /runtime\.backend 'tensorflow' is not available/);
    assert.match(err.message, /npm install @tensorflow\/tfjs-node@4\.22\.0/);
    return true;
  });
  await assert.rejects(
    selectBackend('tensorflow-gpu', { importer: withoutNative }),
    /npm install @tensorflow\/tfjs-node-gpu/,
  );
});

test('explicit cpu and wasm work', async () => {
  assert.equal((await selectBackend('cpu')).name, 'cpu');
  assert.equal((await selectBackend('wasm', { threads: 2 })).name, 'wasm');
});

test('unknown runtime.backend value is rejected', () => {
  assert.equal(parseBackendChoice(undefined), 'auto');
  assert.throws(() => parseBackendChoice('gpu'), {
    name: 'ParamError',
    message: 'runtime.backend must be one of auto, tensorflow-gpu, tensorflow, wasm, cpu, got "gpu"',
  });
});
