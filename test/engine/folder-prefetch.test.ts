/**
 * Folder scans started before the engine loads (fingerprint/folder-prefetch.ts): the scan that find writes to a temp
 * file gives the same digest and files as the synchronous one, the hasher answers from the folder's record with it,
 * each is handed out once, none after the command's first write, and only large recorded folders are scanned ahead.
 * Through the CLI: a run that rewrites a prefetched folder hashes what it wrote, not what was scanned at the start.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  endFolderPrefetch,
  startFolderPrefetch,
  takePrefetchedScan,
} from '../../packages/engine/src/fingerprint/folder-prefetch.ts';
import { PathHasher, scanWithFind, scanWithFindAsync } from '../../packages/engine/src/fingerprint/path-hasher.ts';
import { StateStore } from '../../packages/engine/src/fingerprint/state-store.ts';

const CLI = fileURLToPath(new URL('../../packages/engine/bin/pipeline.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pipeline-prefetch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function folderOf(name: string, files: number): string {
  const folder = join(dir, name);
  mkdirSync(join(folder, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++) writeFileSync(join(folder, i % 10 === 0 ? 'sub' : '', `f${i}.txt`), `file ${i}\n`);
  return folder;
}

/** A state store that has hashed these folders, saved where startFolderPrefetch reads it. */
async function recorded(...folders: string[]): Promise<string> {
  const stateFile = join(dir, `state-${folders.length}-${Math.random().toString(36).slice(2)}.json`);
  const store = StateStore.load(stateFile);
  const hasher = new PathHasher(store);
  for (const folder of folders) await hasher.hashPath(folder);
  store.save();
  return stateFile;
}

const findHere = scanWithFind(dir) !== undefined;

describe('folder prefetch', { skip: !findHere && 'GNU find is not available here' }, () => {
  const large = folderOf('large', 1_500);
  const small = folderOf('small', 50);

  test('the scan written to a temp file equals the synchronous one', async () => {
    const ahead = await scanWithFindAsync(large);
    const now = scanWithFind(large)!;
    assert.ok(ahead);
    assert.equal(ahead.digest, now.digest);
    assert.deepEqual(ahead.files(), now.files());
    assert.equal(ahead.files().length, 1_500);
  });

  test('the hasher answers from the record with a prefetched scan, handed out once', async () => {
    const stateFile = await recorded(large, small);
    const expected = await new PathHasher(StateStore.load(stateFile)).hashPath(large);
    startFolderPrefetch(stateFile);
    assert.equal(takePrefetchedScan(small), undefined, 'a folder under 1,000 files is scanned when hashed');
    let handedOut = 0;
    const hasher = new PathHasher(StateStore.load(stateFile), (folder) => {
      const scan = takePrefetchedScan(folder);
      if (scan) handedOut++;
      return scan;
    });
    const hashed = await hasher.hashPath(large);
    assert.equal(handedOut, 1);
    assert.deepEqual(
      { ...hashed, manifest: undefined },
      { ...expected, manifest: undefined },
      'same hash, size and count as the synchronous scan',
    );
    assert.equal(takePrefetchedScan(large), undefined, 'handed out once: a later hash scans again');
  });

  test('none is handed out after the first write', async () => {
    const stateFile = await recorded(large);
    startFolderPrefetch(stateFile);
    endFolderPrefetch();
    assert.equal(takePrefetchedScan(large), undefined);
  });

  test('a recorded folder that is gone gives no scan (it is hashed as missing later)', async () => {
    const gone = folderOf('gone', 1_000);
    const stateFile = await recorded(gone);
    rmSync(gone, { recursive: true });
    startFolderPrefetch(stateFile);
    assert.equal(await takePrefetchedScan(gone), undefined);
  });

  test('a missing or damaged state file prefetches nothing', () => {
    startFolderPrefetch(join(dir, 'no-such-state.json'));
    const damaged = join(dir, 'damaged-state.json');
    writeFileSync(damaged, '{"version":3,"folders":[[1,2');
    startFolderPrefetch(damaged);
    assert.equal(takePrefetchedScan(large), undefined);
  });

  test('a run that rewrites a prefetched folder hashes what it wrote', () => {
    // `make` writes 1,200 files from `seed` into big/; `first` copies one of them. The second run starts with big/
    // recorded (so prefetched), rewrites it, and first must see (and the lock record) the new contents.
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'seed'), 'one\n');
    writeFileSync(
      join(project, 'pipeline.yaml'),
      `stages:
  make:
    cmd: mkdir -p big && for i in $(seq 1 1200); do cat seed > big/f$i; done
    deps: [seed]
    outs: [big]
  first:
    cmd: cat big/f1 > first.txt
    deps: [big]
    outs: [first.txt]
`,
    );
    const run = () => {
      const r = spawnSync(CLI, ['run'], { cwd: project, encoding: 'utf8', env: { ...process.env, CI: '1' } });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    };
    run();
    writeFileSync(join(project, 'seed'), 'two\n');
    run();
    assert.equal(readFileSync(join(project, 'first.txt'), 'utf8'), 'two\n');
    const lock = parse(readFileSync(join(project, 'pipeline.lock'), 'utf8')) as {
      stages: Record<string, { deps: { path: string; hash: string }[]; outs: { path: string; hash: string }[] }>;
    };
    assert.equal(lock.stages.first.deps[0].hash, lock.stages.make.outs[0].hash, 'first ran on the big/ make wrote');
    const status = spawnSync(CLI, ['status'], { cwd: project, encoding: 'utf8', env: { ...process.env, CI: '1' } });
    assert.equal(status.status, 0);
    assert.doesNotMatch(status.stdout, /stale/, status.stdout);
  });
});
