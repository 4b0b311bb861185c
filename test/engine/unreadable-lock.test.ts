/** pipeline.lock missing is an empty lock; one that exists but cannot be read is an error naming the file, for every command that reads it. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { after, beforeEach, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

describe('an unreadable pipeline.lock', () => {
  const project = new Project({
    'pipeline.yaml': `stages:
  make:
    cmd: echo make >> counts.txt && mkdir -p out && echo made > out/made.txt
    outs: [out/made.txt]
`,
  });
  after(() => project.remove());
  beforeEach(() => {
    chmodSync(project.dir, 0o755);
    rmSync(project.path('pipeline.lock'), { recursive: true, force: true });
  });

  const refused = async (why: RegExp): Promise<void> => {
    for (const args of [['run'], ['status'], ['gc', '--dry-run']]) {
      const r = await project.run(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(
          `cannot read the lock file ${project.path('pipeline.lock').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(${why.source}\\)`,
        ),
        args.join(' '),
      );
    }
    assert.deepEqual(project.counts(), {}, 'no stage ran');
  };

  test('no lock at all: every stage runs and the lock is written', async () => {
    const r = await project.runJson();
    assert.equal(r.result.code, 0, r.result.stderr);
    assert.equal(r.actions.make, 'ran');
    assert.ok(project.exists('pipeline.lock'));
    rmSync(project.path('counts.txt'));
  });

  test('a folder in its place is an error naming the file, not "no lock"', async () => {
    mkdirSync(project.path('pipeline.lock'));
    await refused(/it is a folder/);
  });

  test('a symlink loop in its place is an error too', async () => {
    symlinkSync('pipeline.lock', project.path('pipeline.lock'));
    await refused(/ELOOP[^)]*/);
  });

  test(
    'a lock without read permission is an error',
    { skip: process.getuid?.() === 0 ? 'root reads any file: permissions cannot deny it here' : false },
    async () => {
      project.write('pipeline.lock', 'schema: 1\nstages: {}\n');
      chmodSync(project.path('pipeline.lock'), 0o000);
      await refused(/permission denied/);
    },
  );
});
