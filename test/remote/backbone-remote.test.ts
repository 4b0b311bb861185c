/** A backbone fetched from a URL travels through the remote cache: a second machine makes no request to the URL. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RemoteBlobStore } from '../../packages/engine/src/cache/remote-blobs.ts';
import { RemoteStore } from '../../packages/engine/src/cache/remote-store.ts';
import { loadBackbone } from '../../stages/lib/inference/backbone.ts';

const SMALL = path.resolve(import.meta.dirname, '../../../shared/models/mobilenet_v1_0.25_224');

test('a URL backbone another cache folder fetched comes from the remote cache, checked, with no request to the URL', async () => {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    readFile(path.join(SMALL, path.basename(req.url ?? ''))).then(
      (bytes) => res.end(bytes),
      () => {
        res.statusCode = 404;
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/models/model.json`;
  const shared = await mkdtemp(path.join(tmpdir(), 'backbone-remote-'));
  const warnings: string[] = [];
  const remote = () =>
    new RemoteBlobStore(new RemoteStore({ url: shared, readOnly: false, timeoutSeconds: 30 }, (m) => warnings.push(m)));
  try {
    const machineA = path.join(shared, 'a');
    await loadBackbone(url, { cutLayer: 'conv_pw_13_relu', cacheDir: machineA, remote: remote() });
    const fetched = requests;
    assert.ok(fetched > 1, 'machine A downloaded model.json and its weights');

    const machineB = path.join(shared, 'b');
    const model = await loadBackbone(url, { cutLayer: 'conv_pw_13_relu', cacheDir: machineB, remote: remote() });
    assert.deepEqual(model.outputs[0].shape, [null, 7, 7, 256]);
    assert.equal(requests, fetched, 'machine B made no request to the URL');
    const [folder] = await readdir(machineB);
    for (const name of await readdir(path.join(machineA, folder))) {
      if (name !== '.complete')
        assert.ok(
          readFileSync(path.join(machineA, folder, name)).equals(readFileSync(path.join(machineB, folder, name))),
          name,
        );
    }

    // A damaged weight file on the remote: reported, and machine C downloads from the URL instead.
    const cas = path.join(shared, 'cas');
    let damaged = 0;
    for (const name of await readdir(cas)) {
      const bytes = await readFile(path.join(cas, name));
      if (bytes.length > 100_000) {
        await writeFile(path.join(cas, name), Buffer.concat([bytes.subarray(1), Buffer.from([bytes[0] ^ 1])]));
        damaged++;
      }
    }
    assert.ok(damaged > 0);
    const machineC = path.join(shared, 'c');
    await loadBackbone(url, { cutLayer: 'conv_pw_13_relu', cacheDir: machineC, remote: remote() });
    assert.ok(requests > fetched, 'machine C went to the URL');
    assert.equal(warnings.length, damaged, warnings.join('\n'));
    for (const warning of warnings)
      assert.match(warning, /does not match its sha256 \(damaged on the server\); discarded/);
    // Machine C put the good bytes back: machine D takes them from the remote, no request, no warning.
    const afterC = requests;
    await loadBackbone(url, { cutLayer: 'conv_pw_13_relu', cacheDir: path.join(shared, 'd'), remote: remote() });
    assert.equal(requests, afterC);
    assert.equal(warnings.length, damaged);
  } finally {
    server.close();
    await rm(shared, { recursive: true, force: true });
  }
});
