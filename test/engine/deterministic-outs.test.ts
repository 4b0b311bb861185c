/**
 * Figures a stage reports about a run (ctx.report: timings, rates) go to the run record, not the outs; a forced stage
 * that writes the same bytes again says "outs unchanged", and nothing downstream reruns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listRuns, type RunRecord, type StageRecord } from '../../packages/engine/src/experiments/run-record.ts';
import { Project } from './project-fixture.ts';

describe('figures and forced reruns', () => {
  let project: Project;
  /** The newest run record's stages. */
  const lastRecord = (): Record<string, StageRecord> => listRuns(project.path('.pipeline')).at(-1)!.stages;

  before(async () => {
    project = new Project({
      'data/in.txt': 'a\nb\nc\n',
      'pipeline.yaml': `params:
  figure: 3
stages:
  make:
    module: stages/make.ts
    deps: [data/in.txt]
    params: [figure]
    outs: [out/made]
  use:
    cmd: echo use >> counts.txt && cat out/made/lines.txt > out/used.txt
    deps: [out/made]
    outs: [out/used.txt]
  stamp:
    module: stages/stamp.ts
    outs: [out/stamp.txt]
  use-stamp:
    cmd: echo use-stamp >> counts.txt && cp out/stamp.txt out/stamp-copy.txt
    deps: [out/stamp.txt]
    outs: [out/stamp-copy.txt]
`,
      // Deterministic outs; how long it took and how many lines it read go to ctx.report.
      'stages/make.ts': `import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  async run(ctx) {
    const started = performance.now();
    appendFileSync(join(ctx.root, 'counts.txt'), 'make\\n');
    const lines = readFileSync(ctx.deps[0], 'utf8').trim().split('\\n');
    mkdirSync(ctx.outs[0], { recursive: true });
    writeFileSync(join(ctx.outs[0], 'lines.txt'), lines.map((l) => l.toUpperCase()).join('\\n') + '\\n');
    const figure = ctx.params.figure === 'nan' ? Number.NaN : lines.length;
    ctx.report({ seconds: (performance.now() - started) / 1000 });
    ctx.report({ lines: figure });
    ctx.log('made ' + lines.length + ' lines');
  },
};
`,
      // Outs that differ on every run (a counter kept in the stage's own cache folder).
      'stages/stamp.ts': `import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  async run(ctx) {
    appendFileSync(join(ctx.root, 'counts.txt'), 'stamp\\n');
    mkdirSync(ctx.cacheDir, { recursive: true });
    const file = join(ctx.cacheDir, 'n');
    let n = 0;
    try { n = Number(readFileSync(file, 'utf8')); } catch {}
    writeFileSync(file, String(n + 1));
    writeFileSync(ctx.outs[0], 'run ' + (n + 1) + '\\n');
  },
};
`,
    });
    const first = await project.run('run');
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => project.remove());

  test('reported figures reach the run record and metrics show --runs --metric, never the outs', async () => {
    const recorded = lastRecord();
    assert.deepEqual(Object.keys(recorded.make.figures!).sort(), ['lines', 'seconds']);
    assert.equal(recorded.make.figures!.lines, 3);
    assert.ok(recorded.make.figures!.seconds >= 0);
    assert.equal(recorded.use.figures, undefined, 'a command stage reports nothing');
    assert.equal(recorded.make.outsUnchanged, undefined, 'the first run made new outs');
    assert.equal(project.read('out/made/lines.txt'), 'A\nB\nC\n');
    const shown = await project.run('metrics', 'show', '--runs', '1', '--metric', 'make.lines', '--json');
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal((JSON.parse(shown.stdout) as RunRecord[])[0].stages.make.figures!.lines, 3);
    const table = await project.run('metrics', 'show', '--runs', '1', '--metric', 'make');
    assert.match(table.stdout, /make\.lines/);
    assert.match(table.stdout, /make\.seconds/);
  });

  test('a forced stage that writes the same bytes: "ran (forced), outs unchanged", downstream stays up to date', async () => {
    const lock = project.read('pipeline.lock');
    const forced = await project.run('run', 'make', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /make\s+ran \(forced\), outs unchanged/);
    assert.equal(project.read('pipeline.lock'), lock, 'the lock records the same outs');
    assert.equal(lastRecord().make.outsUnchanged, true);

    const json = await project.runJson('make', '--force');
    assert.equal(json.stages.find((s) => s.stage === 'make')!.action, 'ran');
    assert.equal((json.stages.find((s) => s.stage === 'make') as { outsUnchanged?: boolean }).outsUnchanged, true);

    const next = await project.runJson();
    assert.deepEqual(next.actions, { make: 'skipped', use: 'skipped', stamp: 'skipped', 'use-stamp': 'skipped' });
    assert.deepEqual(project.counts(), { make: 3, use: 1, stamp: 1, 'use-stamp': 1 });
  });

  test('a forced stage whose bytes differ says nothing of the kind, and its downstream reruns', async () => {
    const forced = await project.run('run', 'stamp', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /stamp\s+ran \(forced\)\s/);
    assert.doesNotMatch(forced.stdout, /unchanged/);
    assert.equal(lastRecord().stamp.outsUnchanged, undefined);
    const next = await project.runJson();
    assert.equal(next.actions['use-stamp'], 'ran');
    assert.equal(project.read('out/stamp-copy.txt'), 'run 2\n');
  });

  test('a figure that is not a finite number fails the stage with its name, keeping the old outs', async () => {
    const { result, stages } = await project.runJson('--set', 'figure=nan');
    assert.equal(result.code, 1);
    const make = stages.find((s) => s.stage === 'make')!;
    assert.equal(make.action, 'failed');
    assert.match(project.read(make.log!), /ctx\.report: figure "lines" must be a finite number, got NaN/);
    assert.equal(project.read('out/made/lines.txt'), 'A\nB\nC\n');
  });
});
