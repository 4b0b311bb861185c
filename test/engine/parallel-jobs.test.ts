/** --jobs runs independent stages at the same time; heavy stages never overlap. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

/** A stage that records its start and end time (ns) and sleeps in between. */
const timedStage = (name: string, heavy: boolean) => `  ${name}:
    cmd: echo ${name} >> counts.txt && date +%s%N > t-${name}.start && sleep 0.4 && date +%s%N > t-${name}.end && echo done > out-${name}.txt
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
    // Each sleeps 0.4 s; run one after the other, the second would show ~0.8 s if the wait counted.
    for (const stage of stages) assert.ok(stage.seconds < 0.75, `${stage.stage} took ${stage.seconds} s`);
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
