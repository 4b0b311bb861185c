/**
 * Folder scans (GNU find, or the walk in JS) and the folder records of the hash cache: an unchanged folder is
 * answered from its record, and every kind of change still shows. In-process, on small temp folders.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { FolderScan, HashedPath } from '../../packages/engine/src/fingerprint/path-hasher.ts';
import { PathHasher, scanWithFind, scanWithWalk } from '../../packages/engine/src/fingerprint/path-hasher.ts';
import { StateStore, statKeyOf } from '../../packages/engine/src/fingerprint/state-store.ts';
import { Project } from './project-fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'pipeline-scan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let folders = 0;
/** A fresh folder: files at two depths, a hidden file, a symlinked file and folder, a dangling link (to a file beside the folder). */
function makeFolder(): string {
  const folder = join(dir, `data${folders++}`);
  mkdirSync(join(folder, 'sub/deeper'), { recursive: true });
  mkdirSync(join(folder, 'elsewhere'));
  writeFileSync(join(folder, 'a.txt'), 'alpha');
  writeFileSync(join(folder, '.hidden'), 'hidden');
  writeFileSync(join(folder, 'sub/b.txt'), 'beta');
  writeFileSync(join(folder, 'sub/deeper/c.txt'), 'gamma');
  writeFileSync(join(folder, 'elsewhere/d.txt'), 'delta');
  writeFileSync(join(folder, 'elsewhere/e.txt'), 'epsil');
  symlinkSync(join(folder, 'elsewhere/d.txt'), join(folder, 'link.txt'));
  symlinkSync(join(folder, 'sub'), join(folder, 'linked-sub'));
  symlinkSync(`${folder}-nowhere.txt`, join(folder, 'dangling.txt'));
  return folder;
}

const find = scanWithFind(makeFolder()) !== undefined;
const scanners: [name: string, scan: (folder: string) => FolderScan | undefined, skip: string | false][] = [
  ['GNU find', scanWithFind, !find && 'GNU find is not available here'],
  ['the JS walk', scanWithWalk, false],
];

const listing = (scan: FolderScan) =>
  scan
    .files()
    .map((file) => `${file.rel} ${file.size} ${file.mode.toString(8)}`)
    .sort();

describe('folder scans', () => {
  test(
    'GNU find and the walk list the same files, with stat keys equal to statKeyOf',
    { skip: !find && 'GNU find is not available here' },
    () => {
      const folder = makeFolder();
      const byFind = scanWithFind(folder)!;
      assert.deepEqual(listing(byFind), listing(scanWithWalk(folder)));
      assert.deepEqual(listing(byFind), [
        '.hidden 6 644',
        'a.txt 5 644',
        'elsewhere/d.txt 5 644',
        'elsewhere/e.txt 5 644',
        'link.txt 5 644',
        'linked-sub/b.txt 4 644',
        'linked-sub/deeper/c.txt 5 644',
        'sub/b.txt 4 644',
        'sub/deeper/c.txt 5 644',
      ]);
      for (const file of byFind.files()) assert.equal(file.statKey, statKeyOf(statSync(file.absPath)), file.rel);
    },
  );

  for (const [name, scan, skip] of scanners) {
    test(`with ${name}, the digest is stable and changes with every kind of change`, { skip }, () => {
      const folder = makeFolder();
      const digest = () => scan(folder)!.digest;
      let last = digest();
      assert.equal(digest(), last, 'same folder, same digest');
      const changes: [string, () => void][] = [
        [
          'edited in place, same size, mtime set back to the same second',
          () => {
            const { mtime } = statSync(join(folder, 'a.txt'));
            writeFileSync(join(folder, 'a.txt'), 'ALPHA');
            const second = new Date(Math.floor(mtime.getTime() / 1000) * 1000 + 1);
            utimesSync(join(folder, 'a.txt'), second, second);
          },
        ],
        ['a file added', () => writeFileSync(join(folder, 'sub/new.txt'), 'new')],
        ['a file removed', () => unlinkSync(join(folder, 'sub/new.txt'))],
        ['a file renamed', () => renameSync(join(folder, 'sub/b.txt'), join(folder, 'sub/b2.txt'))],
        [
          'a symlink re-pointed',
          () => {
            unlinkSync(join(folder, 'link.txt'));
            symlinkSync(join(folder, 'elsewhere/e.txt'), join(folder, 'link.txt'));
          },
        ],
        ['a dangling symlink now resolves', () => writeFileSync(`${folder}-nowhere.txt`, 'here')],
        ['a file made executable', () => chmodSync(join(folder, 'a.txt'), 0o755)],
        [
          'a file touched',
          () => utimesSync(join(folder, '.hidden'), new Date(Date.now() + 5000), new Date(Date.now() + 5000)),
        ],
        ['an empty folder added', () => mkdirSync(join(folder, 'empty'))],
      ];
      for (const [change, apply] of changes) {
        apply();
        const next = digest();
        assert.notEqual(next, last, change);
        last = next;
      }
    });
  }
});

describe('folder records in the hash cache', () => {
  const dirHash = (hashed: HashedPath) => (hashed.kind === 'dir' ? hashed.hash : hashed.kind);

  test('an unchanged folder is answered from its record; its manifest is the one a full hash gives', async () => {
    const folder = makeFolder();
    const storeFile = join(dir, 'records/state.json');
    const first = (await new PathHasher(StateStore.load(storeFile)).hashFolder(folder)) as HashedPath & { kind: 'dir' };
    const store = StateStore.load(storeFile);
    await new PathHasher(store).hashFolder(folder);
    store.save();
    assert.equal(StateStore.load(storeFile).size, 9, "the folder's 9 files are cached");

    const reloaded = StateStore.load(storeFile);
    let fileReads = 0;
    const folderFiles = reloaded.folderFiles.bind(reloaded);
    reloaded.folderFiles = (absFolder) => (fileReads++, folderFiles(absFolder));
    const again = (await new PathHasher(reloaded).hashFolder(folder)) as HashedPath & { kind: 'dir' };
    assert.deepEqual([again.hash, again.size, again.files], [first.hash, first.size, first.files]);
    assert.equal(fileReads, 0, 'the hash comes from the record alone');
    assert.deepEqual(again.manifest, first.manifest);
    assert.equal(fileReads, 1, 'the files are read when the manifest is asked for');

    // The files kept beside the record lost: the hash still comes from the record, the manifest is rebuilt from the files.
    rmSync(join(dir, 'records/state-folders'), { recursive: true });
    const withoutFiles = (await new PathHasher(StateStore.load(storeFile)).hashFolder(folder)) as HashedPath & {
      kind: 'dir';
    };
    assert.equal(withoutFiles.hash, first.hash);
    assert.deepEqual(withoutFiles.manifest, first.manifest);
  });

  test('a file edited in place (same size, same mtime second) is re-read, across a save and a reload', async () => {
    const folder = makeFolder();
    const storeFile = join(dir, 'edits/state.json');
    const store = StateStore.load(storeFile);
    const before = await new PathHasher(store).hashFolder(folder);
    store.save();

    const file = join(folder, 'sub/deeper/c.txt');
    const { mtime } = statSync(file);
    writeFileSync(file, 'GAMMA');
    const sameSecond = new Date(Math.floor(mtime.getTime() / 1000) * 1000 + 1);
    utimesSync(file, sameSecond, sameSecond);
    const reloaded = StateStore.load(storeFile);
    const after = await new PathHasher(reloaded).hashFolder(folder);
    assert.notEqual(dirHash(after), dirHash(before));
    reloaded.save();

    const fresh = await new PathHasher(StateStore.load(join(dir, 'edits/empty-state.json'))).hashFolder(folder);
    assert.equal(dirHash(after), dirHash(fresh), 'what the cache says is what a cold hash says');
    assert.equal(dirHash(await new PathHasher(StateStore.load(storeFile)).hashFolder(folder)), dirHash(fresh));
  });

  test('a folder that is gone drops its record and its files at the next save', async () => {
    const folder = makeFolder();
    const storeFile = join(dir, 'gone/state.json');
    const store = StateStore.load(storeFile);
    const hasher = new PathHasher(store);
    await hasher.hashPath(folder);
    store.save();
    assert.equal(readdirSync(join(dir, 'gone/state-folders')).length, 1);
    rmSync(folder, { recursive: true });
    assert.deepEqual(await hasher.hashPath(folder), { kind: 'missing' });
    store.save();
    assert.equal(StateStore.load(storeFile).size, 0);
    assert.deepEqual(readdirSync(join(dir, 'gone/state-folders')), []);
  });
});

describe('a big folder dep', () => {
  test('through the CLI: a big folder dep is skipped while unchanged and reruns its stage once edited', async () => {
    const files: Record<string, string> = {
      'pipeline.yaml':
        'stages:\n  count:\n    cmd: ls data/sub | wc -l > count.txt && cat data/f0.txt >> count.txt\n    deps: [data]\n    outs: [count.txt]\n',
    };
    for (let i = 0; i < 1000; i++) files[i % 2 ? `data/sub/f${i}.txt` : `data/f${i}.txt`] = `file ${i}\n`;
    const project = new Project(files);
    try {
      assert.deepEqual((await project.runJson()).actions, { count: 'ran' });
      assert.deepEqual((await project.runJson()).actions, { count: 'skipped' });
      project.write('data/f0.txt', 'FILE 0\n'); // same size
      assert.deepEqual((await project.runJson()).actions, { count: 'ran' });
      assert.equal(project.read('count.txt'), '500\nFILE 0\n');
      assert.deepEqual((await project.runJson()).actions, { count: 'skipped' });
    } finally {
      project.remove();
    }
  });
});
