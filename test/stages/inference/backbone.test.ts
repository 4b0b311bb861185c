import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BackboneError, inputSizeOf, loadBackbone } from '../../../stages/lib/inference/backbone.ts';

const MODELS = path.resolve(import.meta.dirname, '../../../../shared/models');
const SMALL = path.join(MODELS, 'mobilenet_v1_0.25_224');

test('cuts a local backbone at the named layer', async () => {
  const model = await loadBackbone(SMALL, { cutLayer: 'conv_pw_13_relu' });
  assert.deepEqual(model.outputs[0].shape, [null, 7, 7, 256]);
  assert.equal(inputSizeOf(model), 224);
});

test('finds the cut inside a nested model (Teachable Machine export)', async () => {
  const model = await loadBackbone(path.join(MODELS, 'mobilenet_v2_0.35_224_tm'));
  assert.deepEqual(model.outputs[0].shape, [null, 7, 7, 1280]);
});

test('an unknown cut layer is a clear error with similar names', async () => {
  await assert.rejects(loadBackbone(SMALL, { cutLayer: 'conv_pw_13_relux' }), (e: unknown) => {
    assert.ok(e instanceof BackboneError);
    assert.equal(e.reason, 'unknown-cut-layer');
    assert.match(e.message, /conv_pw_13_relu/);
    return true;
  });
});

test('a URL is downloaded once into the cache, then served from it', async () => {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const served = req.url?.startsWith('/models/')
      ? readFile(path.join(SMALL, path.basename(req.url)))
      : Promise.reject(new Error('not served'));
    served.then(
      (body) => res.end(body),
      () => {
        res.statusCode = 404;
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cacheDir = await mkdtemp(path.join(tmpdir(), 'backbone-cache-'));
  try {
    const url = `http://127.0.0.1:${port}/models/model.json`;
    const first = await loadBackbone(url, { cutLayer: 'conv_pw_13_relu', cacheDir });
    assert.deepEqual(first.outputs[0].shape, [null, 7, 7, 256]);
    const afterFirst = requests;
    assert.ok(afterFirst > 1, 'model.json and weights were fetched');
    await loadBackbone(url, { cutLayer: 'conv_pw_13_relu', cacheDir });
    assert.equal(requests, afterFirst, 'second load made no request');
    assert.equal((await readdir(cacheDir)).length, 1);
    await assert.rejects(loadBackbone(`http://127.0.0.1:${port}/missing/model.json`, { cacheDir }), /HTTP 404/);
  } finally {
    server.close();
  }
});
