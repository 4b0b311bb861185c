/**
 * The README's two-stage example is real: its pipeline.yaml and stage module, run by the CLI on two text files, print
 * the lines the README shows (run ids and timings aside), rerun on a param change, and restore when it is set back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Project } from '../engine/project-fixture.ts';

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
// The package's entry as a file: the example project has no node_modules of its own.
const contract = fileURLToPath(new URL('../../packages/engine/src/index.ts', import.meta.url));

/** The fenced blocks of the README's example section, by language (`''` for plain output). */
function exampleBlocks(): { lang: string; body: string }[] {
  const section = /^## A pipeline in two stages\n([\s\S]*?)^## /m.exec(readme)?.[1];
  assert.ok(section, 'README.md has no "A pipeline in two stages" section');
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], body: m[2] }));
}

/** Output lines with what changes from run to run (run ids, seconds) masked. */
function normalise(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '' && line.trim() !== '…')
    .map((line) => line.replace(/\d{8}-\d{6}-\d+/g, 'RUN').replace(/\d+\.\d+s/g, 'Ns'));
}

describe("the README's example", () => {
  const blocks = exampleBlocks();
  const yaml = blocks.find((b) => b.lang === 'yaml')?.body;
  const stage = blocks.find((b) => b.lang === 'ts')?.body;
  const [firstRun, laterRuns] = blocks.filter((b) => b.lang === '').map((b) => b.body);
  assert.ok(yaml && stage && firstRun && laterRuns, 'the example needs its yaml, ts and two output blocks');
  assert.ok(stage.includes("from 'pipeline-ml-engine'"));

  const project = new Project({
    'pipeline.yaml': yaml,
    'stages/count-words.ts': stage.replace("'pipeline-ml-engine'", JSON.stringify(contract)),
    'data/texts/a.txt': 'the quick brown fox\njumps over the lazy dog\n',
    'data/texts/b.txt': 'pipelines rerun only what changed\n',
  });
  after(() => project.remove());

  test('the first run prints what the README shows', async () => {
    const result = await project.run('run');
    assert.equal(result.code, 0, result.stderr);
    // A stage's own lines (`name │ …`) interleave with its throttled progress in no fixed order: compared apart.
    const own = (line: string) => line.includes(' │ ');
    const actual = normalise(result.stdout);
    assert.deepEqual(
      actual.filter((line) => !own(line)),
      normalise(firstRun).filter((line) => !own(line)),
    );
    assert.ok(actual.includes('  count-words │ counted 2 files'), result.stdout);
    assert.equal(project.read('artifacts/total.txt'), '10\n');
  });

  test('then a no-op, a param change and a restore, as shown', async () => {
    // The README cuts repeated lines with "…": every line it shows must appear, in order, in the real output.
    const shown = laterRuns.split(/^\$ npx pipeline /m).filter(Boolean);
    assert.equal(shown.length, 3);
    for (const block of shown) {
      const [command, ...expected] = block.split('\n');
      const result = await project.run(...command.split(' '));
      assert.equal(result.code, 0, result.stderr);
      const actual = normalise(result.stdout);
      let at = 0;
      for (const line of normalise(expected.join('\n'))) {
        const found = actual.indexOf(line, at);
        assert.ok(found >= 0, `"${line}" not in the output of \`pipeline ${command}\`:\n${result.stdout}`);
        at = found + 1;
      }
    }
    assert.equal(project.read('artifacts/total.txt'), '10\n');
  });
});
