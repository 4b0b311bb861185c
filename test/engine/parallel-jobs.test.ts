/** --jobs runs independent stages at the same time; heavy stages never overlap. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

/** How long each timed stage sleeps: long enough that starting a process, even on a loaded machine, takes far less. */
const SLEEP_S = 1.5;

/** A stage that records its start and end time (ns) and sleeps in between. */
const timedStage = (name: string, heavy: boolean) => `  ${name}:
    cmd: echo ${name} >> counts.txt && date +%s%N > t-${name}.start && sleep ${SLEEP_S} && date +%s%N > t-${name}.end && echo done > out-${name}.txt
    outs: [out-${name}.txt]
    heavy: ${heavy}
`;

function interval(project: Project, name: string): [number, number] {
  return [Number(project.read(`t-${name}.start`)) / 1e6, Number(project.read(`t-${name}.end`)) / 1e6];
}

const overlaps = ([s1, e1]: [number, number], [s2, e2]: [number, number]) => s1 < e2 && s2 < e1;

describe('parallel jobs', () => {
  const projects: Project[] = [];
  after(() => projects.forEach((p) => p.remove()));

  test('--jobs 2 runs two independent stages concurrently', async () => {
    const project = new Project({ 'pipeline.yaml': `stages:\n${timedStage('left', false)}${timedStage('right', false)}` });
    projects.push(project);
    const { result, actions } = await project.runJson('--jobs', '2');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(actions, { left: 'ran', right: 'ran' });
    assert.ok(overlaps(interval(project, 'left'), interval(project, 'right')), 'the two stages overlapped in time');
  });

  test('two heavy stages never overlap, even with --jobs 2', async () => {
    const project = new Project({ 'pipeline.yaml': `stages:\n${timedStage('left', true)}${timedStage('right', true)}` });
    projects.push(project);
    const { result } = await project.runJson('--jobs', '2');
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!overlaps(interval(project, 'left'), interval(project, 'right')), 'heavy stages ran one after the other');
  });

  test('a stage waiting for a job slot is not charged for the wait', async () => {
    const project = new Project({ 'pipeline.yaml': `stages:\n${timedStage('left', true)}${timedStage('right', true)}` });
    projects.push(project);
    const { result, stages } = await project.runJson();
    assert.equal(result.code, 0, result.stderr);
    // Compared with the stages' own clocks, not a fixed bound: the one that went second waited at least the first's sleep,
    // and would be charged from before the first started if the wait counted.
    const [first, second] = ['left', 'right'].sort((a, b) => interval(project, a)[0] - interval(project, b)[0]);
    const reported = stages.find((s) => s.stage === second)!.seconds;
    const sinceFirstStarted = (interval(project, second)[1] - interval(project, first)[0]) / 1000;
    assert.ok(reported < sinceFirstStarted - SLEEP_S / 2, `${second} reported ${reported} s; ${sinceFirstStarted} s passed since ${first} started`);
  });

  test('a failure stops its downstream but independent stages finish', async () => {
    const project = new Project({
      'pipeline.yaml': `stages:
  broken:
    cmd: exit 4
    outs: [broken.txt]
  after_broken:
    cmd: cat broken.txt > after.txt
    deps: [broken.txt]
    outs: [after.txt]
  fine:
    cmd: sleep 0.2 && echo ok > fine.txt
    outs: [fine.txt]
`,
    });
    projects.push(project);
    const { result, actions } = await project.runJson('--jobs', '2');
    assert.equal(result.code, 1);
    assert.deepEqual(actions, { broken: 'failed', after_broken: 'not-run', fine: 'ran' });
  });
});
