/** Stage caches (ctx.cacheDir / PIPELINE_CACHE_DIR) and `pipeline gc` on a project that knows nothing of ML. */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

interface GcJson {
  dryRun: boolean;
  groups: {
    store: string;
    remove: { files: number; bytes: number; paths: string[] };
    keep: { files: number; bytes: number };
  }[];
  removed: { files: number; bytes: number } | null;
}

describe('stage caches and gc', () => {
  // `memo` keeps one file per distinct input in its cache folder and touches the one it reuses.
  const project = new Project({
    'pipeline.yaml': `params:
  word: alpha   # the runs below set beta with --set
stages:
  memo:
    module: stages/memo.ts
    params: [word]
    outs: [artifacts/memo.txt]
  shell:
    cmd: printf '%s' "\${params.word}" > "$PIPELINE_CACHE_DIR/last.txt" && cp "$PIPELINE_CACHE_DIR/last.txt" artifacts/shell.txt
    outs: [artifacts/shell.txt]
`,
    'stages/memo.ts': `import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  async run(ctx: { params: Record<string, unknown>; outs: readonly string[]; cacheDir: string }) {
    const word = String(ctx.params['word']);
    const memo = join(ctx.cacheDir, word + '.memo');
    if (existsSync(memo)) utimesSync(memo, new Date(), new Date());
    else writeFileSync(memo, word.repeat(100));
    writeFileSync(ctx.outs[0], word);
  },
};
`,
  });
  after(() => project.remove());
  const gc = async (...args: string[]): Promise<GcJson> => {
    const r = await project.run('gc', '--json', ...args);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as GcJson;
  };
  const group = (plan: GcJson, store: string) => plan.groups.find((g) => g.store === store)!;
  const old = (rel: string) => utimesSync(project.path(rel), new Date('2020-01-01'), new Date('2020-01-01'));

  test('module stages get ctx.cacheDir, commands PIPELINE_CACHE_DIR: a folder of their own under .pipeline/stage-cache', async () => {
    assert.equal((await project.run('run')).code, 0);
    assert.equal((await project.run('run', '--set', 'word=beta')).code, 0);
    assert.deepEqual(readdirSync(project.path('.pipeline/stage-cache/memo')).sort(), ['alpha.memo', 'beta.memo']);
    assert.equal(project.read('.pipeline/stage-cache/shell/last.txt'), 'beta');
    const status = await project.run('status');
    assert.match(status.stdout, /stores: run cache \d+(\.\d)? [kM]?B, stage cache memo 900 B, stage cache shell 4 B/);
  });

  test('recent use keeps everything; --keep-days 0 keeps only what the lock entries need', async () => {
    const recent = await gc('--dry-run');
    assert.ok(
      recent.groups.every((g) => g.remove.files === 0),
      'all used within 30 days',
    );
    // The lock holds the beta run: alpha's run records and memo file are needed by no lock entry.
    const plan = await gc('--dry-run', '--keep-days', '0');
    assert.deepEqual(group(plan, 'stage cache memo').remove.paths, ['.pipeline/stage-cache/memo/alpha.memo']);
    assert.equal(group(plan, 'stage cache shell').remove.files, 0, 'the locked run wrote it');
    const runs = group(plan, 'run cache').remove.paths;
    assert.equal(runs.filter((p) => p.startsWith('.pipeline/cache/runs/')).length, 2, "alpha's records of both stages");
    assert.ok(
      runs.some((p) => p.startsWith('.pipeline/cache/objects/')),
      'and the outs only they needed',
    );
    assert.ok(project.exists('.pipeline/stage-cache/memo/alpha.memo'), 'a dry run removes nothing');
    const done = await gc('--keep-days', '0');
    const listed = plan.groups.flatMap((g) => g.remove.paths);
    assert.deepEqual(done.removed, {
      files: listed.length,
      bytes: plan.groups.reduce((n, g) => n + g.remove.bytes, 0),
    });
    assert.ok(listed.every((p) => !project.exists(p)));
    // Nothing the lock needs went: beta is up to date, and a restore of alpha is no longer possible (it reruns).
    assert.equal((await project.runJson('--set', 'word=beta')).actions.memo, 'skipped');
    assert.equal((await project.runJson()).actions.memo, 'ran');
  });

  test('files older than --keep-days that the locked run did not use go; a restore counts as a use of its record', async () => {
    old('.pipeline/stage-cache/memo/beta.memo'); // last used long ago, and not by the locked (alpha) run
    const plan = await gc('--dry-run', '--keep-days', '1');
    assert.deepEqual(group(plan, 'stage cache memo').remove.paths, ['.pipeline/stage-cache/memo/beta.memo']);
    const runRecords = (g: GcJson) =>
      group(g, 'run cache').remove.paths.filter((p) => p.startsWith('.pipeline/cache/runs/'));
    for (const shard of readdirSync(project.path('.pipeline/cache/runs'))) {
      for (const file of readdirSync(project.path(`.pipeline/cache/runs/${shard}`)))
        old(`.pipeline/cache/runs/${shard}/${file}`);
    }
    assert.equal(runRecords(await gc('--dry-run', '--keep-days', '1')).length, 2, "beta's old records would go");
    assert.equal((await project.runJson('--set', 'word=beta')).actions.memo, 'restored');
    assert.equal((await project.runJson()).actions.memo, 'restored');
    assert.equal(runRecords(await gc('--dry-run', '--keep-days', '1')).length, 0, 'restored a moment ago: kept');
    assert.equal(runRecords(await gc('--dry-run', '--keep-days', '0')).length, 2, 'unless only the lock counts');
  });

  test('a bad --keep-days is a usage error', async () => {
    const r = await project.run('gc', '--keep-days', 'soon');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--keep-days must be a number of days ≥ 0, got 'soon'/);
  });
});

describe('gc and run records', () => {
  const project = new Project({
    'pipeline.yaml': `params:
  rate: 1
stages:
  fit:
    cmd: mkdir -p artifacts/fit && printf 'epoch,loss\\n1,%s\\n' "\${params.rate}" > artifacts/fit/history.csv
    params: [rate]
    outs: [artifacts/fit]
    plots: [artifacts/fit/history.csv]
`,
  });
  after(() => project.remove());

  test('the plot files old run records point to survive --keep-days 0, so compare still draws their curves', async () => {
    assert.equal((await project.runJson()).actions.fit, 'ran');
    assert.equal((await project.runJson('--set', 'rate=2')).actions.fit, 'ran');
    const { listRuns } = await import('../../packages/engine/src/experiments/run-record.ts');
    const [first] = listRuns(project.path('.pipeline'));
    const plotHash = first.plots[0].hash;
    const objectPath = `.pipeline/cache/objects/${plotHash.slice(0, 2)}/${plotHash.slice(2)}`;
    const result = await project.run('gc', '--keep-days', '0', '--json');
    assert.equal(result.code, 0, result.stderr);
    const removed = (JSON.parse(result.stdout) as GcJson).groups.flatMap((g) => g.remove.paths);
    assert.ok(
      removed.some((p) => p.startsWith('.pipeline/cache/runs/')),
      "the first run's record is no lock's: it goes",
    );
    assert.ok(!removed.includes(objectPath) && project.exists(objectPath), "its plot stays for the run record's curve");
    assert.equal(project.read(objectPath), 'epoch,loss\n1,1\n');
  });
});

describe('gc and the filesystem clock', () => {
  // File mtimes come from the kernel's coarse clock: a file written in a run's first milliseconds carries the start of
  // the clock tick it was written in, earlier than Date.now() at the run's start. Reproduced here with explicit mtimes.
  const project = new Project({
    'pipeline.yaml': `stages:
  shell:
    cmd: printf x > "$PIPELINE_CACHE_DIR/first.txt" && mkdir -p artifacts && printf y > artifacts/shell.txt
    outs: [artifacts/shell.txt]
`,
  });
  after(() => project.remove());
  const fingerprint = 'ab' + 'c'.repeat(62);
  const tick = Date.parse('2026-01-01T12:00:00.000Z'); // the coarse clock's last tick when the run started
  const precise = tick + 3.7; // Date.now() at that moment

  const prepare = (started: number): void => {
    project.write(
      'pipeline.lock',
      `schema: 1\nstages:\n  shell:\n    fingerprint: ${fingerprint}\n    cmd: printf x\n    params: {}\n    deps: []\n    outs: []\n`,
    );
    project.write(
      `.pipeline/cache/runs/ab/${'c'.repeat(62)}.json`,
      JSON.stringify({
        stage: 'shell',
        started: new Date(started).toISOString(),
        created: new Date(tick + 50).toISOString(),
        outs: [],
      }),
    );
    project.write('.pipeline/stage-cache/shell/written-in-first-tick.bin', 'used');
    project.write('.pipeline/stage-cache/shell/from-an-earlier-run.bin', 'old');
    utimesSync(project.path('.pipeline/stage-cache/shell/written-in-first-tick.bin'), new Date(tick), new Date(tick));
    utimesSync(
      project.path('.pipeline/stage-cache/shell/from-an-earlier-run.bin'),
      new Date(tick - 1),
      new Date(tick - 1),
    );
  };
  const removed = async (): Promise<string[]> => {
    const r = await project.run('gc', '--json', '--dry-run', '--keep-days', '0');
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as GcJson).groups.find((g) => g.store === 'stage cache shell')!.remove.paths;
  };

  test('a start read from the precise clock would call a file of the locked run older than the run (the old bug)', async () => {
    prepare(precise);
    assert.deepEqual((await removed()).sort(), [
      '.pipeline/stage-cache/shell/from-an-earlier-run.bin',
      '.pipeline/stage-cache/shell/written-in-first-tick.bin',
    ]);
  });

  test('a start stamped in the filesystem clock keeps every file the locked run wrote, however coarse the clock', async () => {
    prepare(tick);
    assert.deepEqual(await removed(), ['.pipeline/stage-cache/shell/from-an-earlier-run.bin']);
  });

  test('the engine records the start in the filesystem clock: nothing the stage wrote first is older than it', async () => {
    for (const made of ['.pipeline', 'pipeline.lock']) rmSync(project.path(made), { recursive: true, force: true });
    const run = await project.run('run');
    assert.equal(run.code, 0, run.stderr);
    const { parse } = await import('yaml');
    const locked = (parse(project.read('pipeline.lock')) as { stages: { shell: { fingerprint: string } } }).stages.shell
      .fingerprint;
    const record = JSON.parse(project.read(`.pipeline/cache/runs/${locked.slice(0, 2)}/${locked.slice(2)}.json`)) as {
      started: string;
    };
    const written = statSync(project.path('.pipeline/stage-cache/shell/first.txt')).mtimeMs;
    assert.ok(
      Date.parse(record.started) <= written,
      `record started ${record.started}, first file written ${new Date(written).toISOString()}`,
    );
    assert.deepEqual(await removed(), []);
  });
});
