/** Hand-edited or damaged files under the engine's care: never a crash, a clear message or a rebuild. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Project, ranStandardProject } from './project-fixture.ts';

describe('damaged pipeline.lock and .pipeline/state.json', () => {
  let project: Project;
  before(async () => (project = await ranStandardProject()));
  after(() => project.remove());

  test('a malformed lock entry is ignored with a warning naming the stage; that stage comes back, the lock is repaired', async () => {
    const good = project.read('pipeline.lock');
    const damaged = good
      .replace(/(\n {2}prep:\n(?: {4}.*\n| {6}.*\n)*? {4}deps:)\n(?: {6}.*\n)+?( {4}outs:)/, '$1 not-a-list\n$2')
      .replace(/\n {2}side:\n[\s\S]*$/, '\n  side: 5\n');
    assert.notEqual(damaged, good);
    project.write('pipeline.lock', damaged);

    const status = await project.run('status', '--json');
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stderr,
      /warning: pipeline\.lock: the entry of stage "prep" is malformed \("deps" is not a list\)/,
    );
    assert.match(status.stderr, /the entry of stage "side" is malformed \(not a mapping\)/);
    const states = Object.fromEntries(
      (JSON.parse(status.stdout) as { stage: string; state: string }[]).map((s) => [s.stage, s.state]),
    );
    // Their outs are in the run cache, so nothing needs to execute.
    assert.deepEqual(states, { prep: 'restorable', train: 'up-to-date', report: 'up-to-date', side: 'restorable' });

    const before = project.counts();
    const { result, actions } = await project.runJson();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(actions, { prep: 'restored', train: 'skipped', report: 'skipped', side: 'restored' });
    assert.deepEqual(project.counts(), before);
    assert.equal(project.read('pipeline.lock'), good, 'the lock is rewritten as it was');
  });

  test('a lock that is not YAML, or not a lock, is a clear error (exit 1), not a crash', async () => {
    const good = project.read('pipeline.lock');
    for (const [text, message] of [
      ['schema: 1\nstages: {{{\n', /pipeline\.lock: not valid YAML .*fix it or delete it/],
      ['schema: 1\nstages: [a, b]\n', /pipeline\.lock: unknown lock format/],
    ] as const) {
      project.write('pipeline.lock', text);
      for (const command of [['status'], ['run'], ['run', '--dry-run']]) {
        const result = await project.run(...command);
        assert.equal(result.code, 1, `${command.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, message);
        assert.doesNotMatch(result.stderr, /internal error/);
      }
    }
    project.write('pipeline.lock', good);
  });

  test('a corrupt or foreign state.json is rebuilt: files are re-hashed, nothing reruns', async () => {
    for (const text of [
      'garbage',
      '{"version":1,"entries":[1,2,null]}',
      '{"version":1,"entries":null}',
      '{"version":1,"entries":[["x",5,null]]}',
      '',
    ]) {
      project.write('.pipeline/state.json', text);
      const { result, actions } = await project.runJson();
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(actions, { prep: 'skipped', train: 'skipped', report: 'skipped', side: 'skipped' }, text);
      const saved = JSON.parse(project.read('.pipeline/state.json')) as {
        version: number;
        entries: unknown[];
        folders: unknown[];
      };
      assert.equal(saved.version, 3);
      assert.ok(saved.entries.length > 0, 'the hash cache was written again');
      assert.ok(saved.folders.length > 0, 'folder deps were recorded again');
    }
  });

  test("a corrupt or foreign file of a folder's hashes is ignored: the folder is re-hashed, nothing reruns", async () => {
    const folderFiles = () => readdirSync(project.path('.pipeline/state-folders'));
    assert.ok(folderFiles().length > 0);
    const texts = [
      'garbage',
      '{"version":3,"folder":"/elsewhere","scan":"x","files":[]}',
      '{"version":3,"files":[[1,2]]}',
      '',
    ];
    for (const [i, text] of texts.entries()) {
      for (const name of folderFiles()) project.write(`.pipeline/state-folders/${name}`, text);
      project.edit('data/a.txt', 'alpha', `alpha ${i}`); // a changed folder reads its files' hashes
      const { result, actions } = await project.runJson();
      assert.equal(result.code, 0, result.stderr);
      assert.equal(actions.prep, 'ran', text);
      for (const name of folderFiles()) project.write(`.pipeline/state-folders/${name}`, text);
      project.edit('data/a.txt', `alpha ${i}`, 'alpha');
      assert.equal((await project.runJson()).actions.prep, 'restored', text);
    }
  });
});
