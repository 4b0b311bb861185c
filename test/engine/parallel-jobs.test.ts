/** --jobs runs independent stages at the same time; heavy stages never overlap. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { StageGates } from '../stage-gate.ts';
import { gatedProject, Project, waitFor } from './project-fixture.ts';

/** A stage whose work is a gate: `options.until` names the other gate it waits for; without it the test releases it. */
const gatedStage = (gates: StageGates, name: string, heavy: boolean, until?: string) => `  ${name}:
    cmd: echo ${name} >> counts.txt && ${gates.cmd(name, { until })} && echo done > out-${name}.txt
    outs: [out-${name}.txt]
    heavy: ${heavy}
`;

/** A gated project of these stages, removed after the tests. */
function stagesProject(
  projects: Project[],
  stages: (gates: StageGates) => string,
): { project: Project; gates: StageGates } {
  const made = gatedProject((gates) => `stages:\n${stages(gates)}`);
  projects.push(made.project);
  return made;
}

describe('parallel jobs', () => {
  const projects: Project[] = [];
  after(() => projects.forEach((p) => p.remove()));

  test('--jobs 2 runs two independent stages concurrently', async () => {
    // Each stage waits until the other has started: run one after the other, the first would give up and fail.
    const { project, gates } = stagesProject(
      projects,
      (g) => gatedStage(g, 'left', false, 'right') + gatedStage(g, 'right', false, 'left'),
    );
    const { result, actions } = await project.runJson('--jobs', '2');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(actions, { left: 'ran', right: 'ran' });
    assert.deepEqual(
      gates.events().slice(0, 2).sort(),
      ['start left', 'start right'],
      'both started before either ended',
    );
  });

  test('two heavy stages never overlap, even with --jobs 2', async () => {
    const { project, gates } = stagesProject(
      projects,
      (g) => gatedStage(g, 'left', true) + gatedStage(g, 'right', true),
    );
    const run = project.runJson('--jobs', '2');
    const first = await firstStarted(gates, ['left', 'right']);
    const second = first === 'left' ? 'right' : 'left';
    assert.equal(gates.started(second), false, `${second} started while ${first} ran`);
    gates.release(first);
    await gates.waitStarted(second);
    gates.release(second);
    const { result } = await run;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      gates.events(),
      [`start ${first}`, `end ${first}`, `start ${second}`, `end ${second}`],
      'heavy stages ran one after the other',
    );
  });

  test('a stage waiting for a job slot is not charged for the wait', async () => {
    const { project, gates } = stagesProject(
      projects,
      (g) => gatedStage(g, 'left', true) + gatedStage(g, 'right', true),
    );
    const run = project.runJson();
    const first = await firstStarted(gates, ['left', 'right']);
    const second = first === 'left' ? 'right' : 'left';
    gates.release(second); // it passes its gate at once when its turn comes
    // The first is held for at least 2 s: charged for its wait, the second would report at least as much.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    gates.release(first);
    const { result, stages } = await run;
    assert.equal(result.code, 0, result.stderr);
    const seconds = (name: string) => stages.find((s) => s.stage === name)!.seconds;
    assert.ok(seconds(first) >= 2, `${first} was held for 2 s, reported ${seconds(first)} s`);
    assert.ok(
      seconds(second) < seconds(first),
      `${second} reported ${seconds(second)} s, ${first} ${seconds(first)} s`,
    );
  });

  test('a failure stops its downstream but independent stages finish', async () => {
    const { project, gates } = stagesProject(
      projects,
      (g) => `  broken:
    cmd: exit 4
    outs: [broken.txt]
  after_broken:
    cmd: cat broken.txt > after.txt
    deps: [broken.txt]
    outs: [after.txt]
  fine:
    cmd: ${g.cmd('fine')} && echo ok > fine.txt
    outs: [fine.txt]
`,
    );
    const run = project.start(['run', '--jobs', '2']);
    // fine is still running when broken fails: it is released only once the run has reported the failure.
    await gates.waitStarted('fine');
    await waitFor(() => /broken\s+failed/.test(run.output()), 'the run to report broken failed');
    gates.release('fine');
    const result = await run.done;
    assert.equal(result.code, 1);
    assert.match(result.stdout, /fine\s+ran|✔ fine/);
    assert.equal(project.read('fine.txt'), 'ok\n');
    assert.equal(project.exists('after.txt'), false);
  });
});

/** The first of `names` whose gate starts (polling their files, bounded like every gate wait). */
async function firstStarted(gates: StageGates, names: string[]): Promise<string> {
  await Promise.race(names.map((name) => gates.waitStarted(name)));
  return names.find((name) => gates.started(name))!;
}
