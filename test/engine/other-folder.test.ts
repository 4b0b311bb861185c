/** `-f` from another folder, paths with spaces and non-ASCII names, and what `status` tells the user to type. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StageGates } from '../stage-gate.ts';
import { Project } from './project-fixture.ts';

describe('a pipeline in another folder, with spaces and unicode in its paths', () => {
  let project: Project;
  let gates: StageGates;
  const file = 'my projé/pipeline.yaml';
  before(() => {
    project = new Project({
      'my projé/data dir/ä b.txt': 'hello\n',
      [file]: `params:
  name: "wörld, it's"
  gate: open
stages:
  greet:
    cmd: sh "gates/\${params.gate}.sh" && mkdir -p "out dir" && cat "data dir/ä b.txt" > "out dir/résumé.txt" && echo "\${params.name}" >> "out dir/résumé.txt"
    deps: [data dir]
    outs: [out dir/résumé.txt]
`,
    });
    // greet runs gates/<param gate>.sh: "open" passes at once, "held" waits for the test.
    gates = new StageGates(project.path('my projé/gates'));
    project.write('my projé/gates/open.sh', 'true\n');
    project.write('my projé/gates/held.sh', `${gates.cmd('held')}\n`);
  });
  after(() => project.remove());

  test('runs from the project root with -f; paths resolve from the pipeline file and land in its lock', async () => {
    const { result, actions } = await project.runJson('-f', file);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(actions, { greet: 'ran' });
    assert.equal(project.read('my projé/out dir/résumé.txt'), "hello\nwörld, it's\n");
    assert.match(project.read('my projé/pipeline.lock'), /path: out dir\/résumé\.txt/);
    assert.ok(project.exists('my projé/.pipeline/state.json'), '.pipeline/ sits next to the pipeline file');
    assert.ok(!project.exists('.pipeline'), 'nothing is written in the current folder');
  });

  test('status names the exact command to run, -f and --set included, quoted for the shell', async () => {
    const status = await project.run('status', '-f', file, '--set', "name=it's new", 'greet');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /greet\s+stale\s+\(params changed: name wörld, it's → it's new\)/);
    assert.ok(
      status.stdout.includes(
        `run \`pipeline run -f 'my projé/pipeline.yaml' greet --set 'name=it'\\''s new'\` to update it`,
      ),
      status.stdout,
    );
  });

  test('status during a run says a run is in progress', async () => {
    const started = project.start(['run', '-f', file, '--set', 'gate=held']);
    await gates.waitStarted('held');
    const status = await project.run('status', '-f', file);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stderr, new RegExp(`note: a pipeline run is in progress \\(PID ${started.child.pid} on `));
    started.child.kill('SIGINT');
    assert.equal((await started.done).code, 130);
  });
});
