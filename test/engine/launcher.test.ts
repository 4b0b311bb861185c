/**
 * bin/pipeline.js started as a program (as `npx pipeline` starts it): its shell line keeps Node from parsing the CA
 * bundle NODE_EXTRA_CA_CERTS names, and puts the variable back for the stages, exactly as it was (set or not).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { Project } from './project-fixture.ts';

const CLI = fileURLToPath(new URL('../../packages/engine/bin/pipeline.js', import.meta.url));

describe('the launcher', () => {
  const project = new Project({
    'pipeline.yaml': `stages:
  env:
    cmd: mkdir -p artifacts && env > artifacts/env.txt
    outs: [artifacts/env.txt]
    always_run: true
`,
  });
  after(() => project.remove());

  const runAsProgram = (env: NodeJS.ProcessEnv) => {
    const result = spawnSync(CLI, ['run'], { cwd: project.dir, encoding: 'utf8', env: { ...env, CI: '1' } });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    return project.read('artifacts/env.txt').split('\n');
  };

  test('stages get NODE_EXTRA_CA_CERTS back as it was given', () => {
    const { NODE_EXTRA_CA_CERTS: _, ...without } = process.env;
    const lines = runAsProgram({ ...without, NODE_EXTRA_CA_CERTS: '/nonexistent/extra-ca.pem' });
    assert.ok(lines.includes('NODE_EXTRA_CA_CERTS=/nonexistent/extra-ca.pem'));
    assert.ok(!lines.some((line) => line.startsWith('PIPELINE_NODE_EXTRA_CA_CERTS=')));
  });

  test('and unset when it was unset', () => {
    const { NODE_EXTRA_CA_CERTS: _, ...without } = process.env;
    const lines = runAsProgram(without);
    assert.ok(
      !lines.some(
        (line) => line.startsWith('NODE_EXTRA_CA_CERTS=') || line.startsWith('PIPELINE_NODE_EXTRA_CA_CERTS='),
      ),
    );
  });
});
