/** The out transaction's journal on disk, and what recovery does with each state a kill can leave. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { OutTransaction } from '../../packages/engine/src/execution/out-transaction.ts';
import { Project } from './project-fixture.ts';

describe('out transaction', () => {
  const root = mkdtempSync(join(tmpdir(), 'pipeline-outs-'));
  const tmp = join(root, '.pipeline', 'tmp');
  const work = join(tmp, '20260101-000000-1', 'stage');
  const outs = [join(root, 'out', 'a.txt'), join(root, 'out', 'folder'), join(root, 'out', 'never-made.txt')];
  after(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, 'out', 'folder'), { recursive: true });
    writeFileSync(outs[0], 'old a');
    writeFileSync(join(outs[1], 'f.txt'), 'old f');
  });
  const read = (path: string) => readFileSync(path, 'utf8');

  test('the journal names every backup before the first out moves, and is never left half-written', () => {
    const transaction = new OutTransaction(work, outs);
    transaction.moveAsideExisting();
    assert.deepEqual(JSON.parse(read(join(work, 'journal.json'))), [
      { out: outs[0], backup: join(work, 'backup-0') },
      { out: outs[1], backup: join(work, 'backup-1') },
    ]);
    assert.deepEqual(readdirSync(work).sort(), ['backup-0', 'backup-1', 'journal.json'], 'no temp file left beside it');
    assert.ok(!existsSync(outs[0]) && !existsSync(outs[1]));
  });

  test("a killed run with a journal: its backups go back in place, the stage's half-made outs are dropped", () => {
    new OutTransaction(work, outs).moveAsideExisting();
    writeFileSync(outs[0], 'half-written new a');
    mkdirSync(outs[1]);
    writeFileSync(join(outs[1], 'partial.txt'), 'new');
    const recovered = OutTransaction.recoverInterrupted(tmp);
    assert.deepEqual(recovered.restored, [outs[0], outs[1]]);
    assert.equal(read(outs[0]), 'old a');
    assert.deepEqual(readdirSync(outs[1]), ['f.txt']);
    assert.ok(!existsSync(join(tmp, '20260101-000000-1')), 'the run folder is gone once everything is back');
  });

  test('a journal that cannot be read never costs the backups: the folder is kept and reported', () => {
    new OutTransaction(work, outs).moveAsideExisting();
    writeFileSync(join(work, 'journal.json'), '[{"out": "/tru'); // a torn journal (the old non-atomic write)
    const recovered = OutTransaction.recoverInterrupted(tmp);
    assert.deepEqual(recovered.restored, []);
    assert.deepEqual(recovered.kept, [{ dir: work, backups: ['backup-0', 'backup-1'] }]);
    assert.equal(read(join(work, 'backup-0')), 'old a');
    assert.equal(read(join(work, 'backup-1', 'f.txt')), 'old f');
    // Still there on the next run, and said again.
    assert.deepEqual(OutTransaction.recoverInterrupted(tmp).kept, [{ dir: work, backups: ['backup-0', 'backup-1'] }]);
    rmSync(join(work, 'journal.json'));
    assert.deepEqual(
      OutTransaction.recoverInterrupted(tmp).kept,
      [{ dir: work, backups: ['backup-0', 'backup-1'] }],
      'no journal at all: the same',
    );
  });

  test('committed: the backups are garbage, the new outs stay, even when the commit was killed halfway', async () => {
    const transaction = new OutTransaction(work, outs);
    transaction.moveAsideExisting();
    writeFileSync(outs[0], 'new a');
    mkdirSync(outs[1]);
    // What a kill right after the commit marker leaves: the marker and the backups.
    const { renameSync } = await import('node:fs');
    renameSync(join(work, 'journal.json'), join(work, 'committed'));
    const recovered = OutTransaction.recoverInterrupted(tmp);
    assert.deepEqual([recovered.restored, recovered.kept], [[], []]);
    assert.equal(read(outs[0]), 'new a');
    assert.ok(!existsSync(tmp + '/20260101-000000-1'));
  });

  test('commit and rollback leave no folder behind', async () => {
    const committed = new OutTransaction(work, outs);
    committed.moveAsideExisting();
    writeFileSync(outs[0], 'new a');
    await committed.commit();
    assert.ok(!existsSync(work));
    assert.equal(read(outs[0]), 'new a');
    const rolledBack = new OutTransaction(work, outs);
    rolledBack.moveAsideExisting();
    writeFileSync(outs[0], 'newer a');
    rolledBack.rollback();
    assert.ok(!existsSync(work));
    assert.equal(read(outs[0]), 'new a');
  });
});

describe('a run after a kill that left backups with an unreadable journal', () => {
  const project = new Project({
    'pipeline.yaml': `stages:
  make:
    cmd: mkdir -p out && echo new > out/made.txt
    outs: [out/made.txt]
`,
  });
  after(() => project.remove());

  test('runs, keeps the folder with the backups, and says where they are, on every run', async () => {
    const left = '.pipeline/tmp/20260101-000000-1/make';
    project.write(`${left}/backup-0`, 'the only copy of an old out\n');
    project.write(`${left}/journal.json`, '[{"out": "/pro');
    for (let run = 0; run < 2; run++) {
      const r = await project.run('run');
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /note: kept \.pipeline\/tmp\/20260101-000000-1\/make: an interrupted run moved outs aside there \(backup-0\) but its journal cannot be read/,
      );
      assert.equal(project.read(`${left}/backup-0`), 'the only copy of an old out\n');
    }
  });
});
