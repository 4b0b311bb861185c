/**
 * The run cache through a remote cache, against a real nginx (WebDAV PUT) on
 * loopback and a shared folder (file://): restore across fresh clones, a
 * damaged object on the server, the server stopped mid-run, read-only,
 * push/pull, and the token never leaking.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Project, standardProject, waitFor } from '../engine/project-fixture.ts';
import { nginx } from '../machine.ts';
import { CacheServer } from './cache-server.ts';

const skip = nginx();
const cleanup: (() => void)[] = [];
after(() => cleanup.forEach((f) => f()));

/** What `git clone` of the project would give: the sources and pipeline.lock, no outs, no .pipeline/. */
function cloneOf(project: Project): Project {
  const clone = new Project({});
  for (const name of ['pipeline.yaml', 'pipeline.lock', 'data', 'stages']) {
    if (existsSync(project.path(name))) cpSync(project.path(name), clone.path(name), { recursive: true });
  }
  cleanup.push(() => clone.remove());
  return clone;
}

function server(token?: string): CacheServer {
  const started = CacheServer.start(token);
  cleanup.push(() => started.remove());
  return started;
}

function project(): Project {
  const made = standardProject();
  cleanup.push(() => made.remove());
  return made;
}

const OUTS = ['artifacts/prep.txt', 'artifacts/model/weights.txt', 'artifacts/report.txt', 'artifacts-side.txt'];

function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('warning:'));
}

/** Every file under a folder, recursively (for leak checks). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('the run cache through a remote cache', { skip }, () => {
  it('restores every stage in a fresh clone from what another clone ran, byte for byte', async () => {
    const cache = server();
    const a = project();
    const ran = await a.runJson('--remote', cache.url);
    assert.equal(ran.result.code, 0, ran.result.stderr);
    assert.match(ran.result.stderr, /remote cache http:\/\/127\.0\.0\.1:\d+: uploaded (\w+, ){3}\w+ \(/);
    assert.equal(cache.entries('ac').length, 4);

    const b = cloneOf(a);
    const status = await b.run('status', '--remote', cache.url);
    assert.match(status.stdout, /train\s+restorable \(remote\)/);
    const restored = await b.runJson('--remote', cache.url);
    assert.equal(restored.result.code, 0, restored.result.stderr);
    assert.deepEqual(restored.actions, { prep: 'restored', train: 'restored', report: 'restored', side: 'restored' });
    assert.deepEqual(b.counts(), {}, 'nothing ran in the clone');
    for (const out of OUTS) assert.equal(b.read(out), a.read(out), out);
    assert.deepEqual(warnings(restored.result.stderr), []);

    // A third clone with the remote set through the environment and pipeline.yaml's block: the same.
    const c = cloneOf(a);
    c.edit('pipeline.yaml', 'stages:\n', `remote:\n  url: ${cache.url}\nstages:\n`);
    const fromYaml = await c.runJson();
    assert.deepEqual(fromYaml.actions, { prep: 'restored', train: 'restored', report: 'restored', side: 'restored' });
    const off = cloneOf(a);
    off.edit('pipeline.yaml', 'stages:\n', `remote:\n  url: ${cache.url}\nstages:\n`);
    const without = await off.runJson('--no-remote');
    assert.deepEqual(
      without.actions,
      { prep: 'ran', train: 'ran', report: 'ran', side: 'ran' },
      '--no-remote ignores remote.url',
    );
  });

  it('detects a damaged object on the server, discards it and runs the stage', async () => {
    const cache = server();
    const a = project();
    assert.equal((await a.run('run', '--remote', cache.url)).code, 0);
    const weights = readFileSync(a.path('artifacts/model/weights.txt'));
    const damaged = cache.entries('cas').find((name) => readFileSync(cache.path('cas', name)).equals(weights));
    assert.ok(damaged, 'the model file is on the server');
    writeFileSync(cache.path('cas', damaged), 'lines=2 lr=0.999\n');

    const b = cloneOf(a);
    const run = await b.runJson('--remote', cache.url);
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.equal(run.actions.train, 'ran');
    assert.equal(run.actions.prep, 'restored');
    assert.deepEqual(b.counts(), { train: 1 });
    assert.equal(b.read('artifacts/model/weights.txt'), a.read('artifacts/model/weights.txt'));
    const warned = warnings(run.result.stderr);
    assert.equal(warned.length, 1, run.result.stderr);
    assert.match(warned[0], /does not match its sha256/);
    // The clone that ran it uploaded the good bytes over the damaged ones: the next clone restores everything.
    const c = cloneOf(a);
    const repaired = await c.runJson('--remote', cache.url);
    assert.deepEqual(repaired.actions, { prep: 'restored', train: 'restored', report: 'restored', side: 'restored' });
    assert.deepEqual(warnings(repaired.result.stderr), []);
  });

  it('finishes locally with one warning when the server stops in the middle of a run', async () => {
    const cache = server();
    const a = project();
    // train waits until the test has stopped the server.
    a.edit(
      'stages/train.ts',
      "    appendFileSync(join(ctx.root, 'counts.txt'), 'train\\n');",
      "    appendFileSync(join(ctx.root, 'counts.txt'), 'train\\n');\n    writeFileSync(join(ctx.root, 'train-started'), '');\n    while (!existsSync(join(ctx.root, 'release'))) await new Promise((r) => setTimeout(r, 20));",
    );
    a.edit('stages/train.ts', 'import { appendFileSync,', 'import { existsSync, appendFileSync,');
    const running = a.start(['run', '--json', '--remote', cache.url]);
    try {
      await waitFor(() => a.exists('train-started'), 'train to start', 60_000);
      cache.stop();
    } finally {
      writeFileSync(a.path('release'), ''); // whatever happened, the run must not wait forever
    }
    const done = await running.done;
    assert.equal(done.code, 0, done.stderr);
    const actions = Object.fromEntries(
      (JSON.parse(done.stdout) as { stage: string; action: string }[]).map((s) => [s.stage, s.action]),
    );
    assert.deepEqual(actions, { prep: 'ran', train: 'ran', report: 'ran', side: 'ran' });
    const warned = warnings(done.stderr);
    assert.equal(warned.length, 1, done.stderr);
    assert.match(warned[0], /is not usable \(connection refused\); carrying on without it/);

    // A clone with the server down: runs everything locally, one warning, exit 0.
    const d = cloneOf(a);
    writeFileSync(d.path('release'), '');
    const local = await d.runJson('--remote', cache.url);
    assert.equal(local.result.code, 0);
    assert.deepEqual(local.actions, { prep: 'ran', train: 'ran', report: 'ran', side: 'ran' });
    assert.equal(warnings(local.result.stderr).length, 1, local.result.stderr);
  });

  it('gives up on a server that accepts connections but never answers, after timeout_seconds, with one warning', async () => {
    const silent = createServer(() => {}); // holds every connection open, says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const a = project();
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      a.edit('pipeline.yaml', 'stages:\n', `remote:\n  url: ${url}\n  timeout_seconds: 1\nstages:\n`);
      const run = await a.runJson();
      assert.equal(run.result.code, 0, run.result.stderr);
      assert.deepEqual(run.actions, { prep: 'ran', train: 'ran', report: 'ran', side: 'ran' });
      const warned = warnings(run.result.stderr);
      assert.equal(warned.length, 1, run.result.stderr);
      assert.match(warned[0], /is not usable \(no answer within 1 s\); carrying on without it/);
    } finally {
      silent.close();
    }
  });

  it('read_only downloads but never uploads', async () => {
    const cache = server();
    const a = project();
    a.edit('pipeline.yaml', 'stages:\n', `remote:\n  url: ${cache.url}\n  read_only: true\nstages:\n`);
    assert.equal((await a.run('run')).code, 0);
    assert.deepEqual(cache.entries('ac'), []);
    assert.deepEqual(cache.entries('cas'), []);
    const push = await a.run('push');
    assert.equal(push.code, 2);
    assert.match(push.stderr, /read-only/);
    assert.equal((await a.run('push', '--remote', cache.url)).code, 2, 'read_only holds for a --remote URL too');

    // Filled by a writer, a read-only clone restores from it and adds nothing.
    const writer = project();
    assert.equal((await writer.run('run', '--remote', cache.url)).code, 0);
    const uploaded = cache.entries('cas').length;
    const reader = cloneOf(writer);
    reader.edit('pipeline.yaml', 'stages:\n', `remote:\n  url: ${cache.url}\n  read_only: true\nstages:\n`);
    reader.edit('stages/lib/describe.ts', 'lines=', 'line count=');
    const restored = await reader.runJson();
    assert.equal(restored.result.code, 0, restored.result.stderr);
    assert.deepEqual(restored.actions, { prep: 'restored', train: 'ran', report: 'ran', side: 'restored' });
    assert.equal(cache.entries('ac').length, 4);
    assert.equal(cache.entries('cas').length, uploaded);
  });

  it('pushes and pulls what pipeline.lock names, and a file:// remote works the same', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'pipeline-shared-remote-'));
    const a = project();
    assert.equal((await a.run('run')).code, 0);
    const push = await a.run('push', '--remote', `file://${shared}`);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /pushed 4 of 4 runs/);
    assert.equal(readdirSync(join(shared, 'ac')).length, 4);
    const again = await a.run('push', '--remote', `file://${shared}`);
    assert.match(again.stdout, /pushed 4 of 4 runs \(0 B up/);

    const b = cloneOf(a);
    const pull = await b.run('pull', 'report', '--remote', shared);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /pulled 3 of 3 runs/);
    const restored = await b.runJson('--no-remote');
    assert.deepEqual(restored.actions, { prep: 'restored', train: 'restored', report: 'restored', side: 'ran' });
    for (const out of OUTS) assert.equal(b.read(out), a.read(out), out);
  });

  it('sends the token from the named variable and never writes it anywhere', async () => {
    const token = 'tok-8f3e2d1c0b9a';
    const cache = server(token);
    const a = project();
    a.edit('pipeline.yaml', 'stages:\n', `remote:\n  url: ${cache.url}\n  token_env: CACHE_TOKEN\nstages:\n`);
    const env = { CACHE_TOKEN: token };
    const ran = await a.start(['run', '--json'], env).done;
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(cache.entries('ac').length, 4, 'the token was accepted');
    const wrong = await a.start(['push', '--json'], { CACHE_TOKEN: 'not-it' }).done;
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /HTTP 401/);
    const b = cloneOf(a);
    const restored = await b.start(['run', '--json'], env).done;
    assert.equal(restored.code, 0, restored.stderr);
    const status = await b.start(['status', '--json'], env).done;
    for (const text of [
      ran.stdout,
      ran.stderr,
      wrong.stdout,
      wrong.stderr,
      restored.stdout,
      restored.stderr,
      status.stdout,
      status.stderr,
    ])
      assert.ok(!text.includes(token));
    for (const file of [...filesUnder(a.dir), ...filesUnder(b.dir)]) {
      if (statSync(file).size < 5_000_000)
        assert.ok(!readFileSync(file, 'latin1').includes(token), `${file} holds the token`);
    }
  });

  it('rejects a remote URL it cannot use, at its line in pipeline.yaml', async () => {
    const a = project();
    a.edit('pipeline.yaml', 'stages:\n', 'remote:\n  url: ftp://cache.example/x\n  token_env: "my token"\nstages:\n');
    const run = await a.run('validate');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /pipeline\.yaml:10:8: .*"remote\.url" unsupported scheme "ftp"/);
    assert.match(run.stderr, /pipeline\.yaml:11:14: .*not an environment variable name/);
    const flag = await project().run('run', '--remote', 'ftp://x');
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--remote: unsupported scheme "ftp"/);
  });
});
