import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupProjects, cliPath, makeProject, runCli, yaml } from './project.ts';

after(cleanupProjects);

const pipeline = yaml(
  'params:',
  '  train: { lr: 0.001 }',
  'stages:',
  '  split:',
  '    cmd: cp -r data artifacts/split',
  '    deps: [data]',
  '    outs: [artifacts/split]',
  '  train:',
  '    cmd: train --lr ${params.train.lr}',
  '    deps: [artifacts/split/train.csv]',
  '    outs: [artifacts/model]',
);

describe('pipeline validate (real process)', () => {
  it('says the file is valid and counts its stages', () => {
    const root = makeProject({ 'pipeline.yaml': pipeline, 'data/train.csv': 'a\n' });
    const result = runCli(root, ['validate']);
    assert.equal(result.stdout, 'pipeline.yaml is valid: 2 stages\n');
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
  });

  it('prints every error with file:line:col, the line, the underline and the hint; exits 1', () => {
    const root = makeProject({
      'pipeline.yaml': yaml(
        'params:',
        '  train: { lr: 0.001 }',
        'stages:',
        '  train:',
        '    cmd: train --lr ${params.train.lrr}',
        '    dpes: [data]',
      ),
    });
    const result = runCli(root, ['validate']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      [
        'pipeline.yaml:5:21: unknown param "train.lrr" in ${params.train.lrr}',
        '5 |     cmd: train --lr ${params.train.lrr}',
        `  |                     ^${'~'.repeat('${params.train.lrr}'.length - 1)}`,
        'hint: did you mean "train.lr"?',
        '',
        'pipeline.yaml:6:5: unknown key "dpes" in stage "train"',
        '6 |     dpes: [data]',
        '  |     ^~~~',
        'hint: did you mean "deps"?',
        '',
        '2 errors',
        '',
      ].join('\n'),
    );
  });

  it('reports graph errors: cycles and missing deps', () => {
    const root = makeProject({
      'pipeline.yaml': yaml(
        'stages:',
        '  a: { cmd: x, deps: [out/b, data/none.csv], outs: [out/a] }',
        '  b: { cmd: x, deps: [out/a], outs: [out/b] }',
      ),
    });
    const result = runCli(root, ['validate']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^pipeline\.yaml:2:3: cycle: a → b → a$/m);
    assert.match(
      result.stderr,
      /^pipeline\.yaml:2:30: dep "data\/none.csv" of stage "a" does not exist, and no stage writes it$/m,
    );
  });

  it('reads another file with -f and checks --set keys', () => {
    const root = makeProject({ 'conf/other.yaml': pipeline, 'conf/data/train.csv': 'a\n' });
    assert.equal(
      runCli(root, ['validate', '-f', 'conf/other.yaml', '--set', 'train.lr=0.1']).stdout,
      'conf/other.yaml is valid: 2 stages\n',
    );
    const bad = runCli(root, ['validate', '--file', 'conf/other.yaml', '--set', 'train.rl=0.1']);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      'error: --set train.rl: no such param in pipeline.yaml\nhint: did you mean "train.lr"?\n\n1 error\n',
    );
  });

  it('explains a missing pipeline.yaml', () => {
    const root = makeProject({});
    const result = runCli(root, ['validate']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot read .*pipeline\.yaml: no such file/);
  });

  it('prints JSON with --json', () => {
    const root = makeProject({ 'pipeline.yaml': yaml('stages:', '  a: { cmd: x, outz: [o] }') });
    const result = runCli(root, ['validate', '--json']);
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    assert.equal(report.valid, false);
    assert.deepEqual(report.diagnostics[0], {
      severity: 'error',
      reason: 'schema',
      message: 'unknown key "outz" in stage "a"',
      file: 'pipeline.yaml',
      line: 2,
      col: 16,
      length: 4,
      hint: 'did you mean "outs"?',
    });
  });
});

describe('pipeline dag (real process)', () => {
  const root = makeProject({ 'pipeline.yaml': pipeline, 'data/train.csv': 'a\n' });

  it('lists stages in run order with their upstream', () => {
    const result = runCli(root, ['dag']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, '1. split\n2. train\n     ← split\n');
  });

  it('draws Mermaid and DOT', () => {
    const mermaid = runCli(root, ['dag', '--mermaid']).stdout.split('\n');
    assert.equal(mermaid[0], 'flowchart TD');
    assert.ok(mermaid.includes('  s0_split -->|"artifacts/split"| s1_train'));
    const dot = runCli(root, ['dag', '--dot']).stdout;
    assert.match(dot, /^digraph pipeline \{\n/);
    assert.match(dot, /\n {2}"split" -> "train" \[label="artifacts\/split"\];\n\}\n$/);
  });

  it('restricts the drawing to targets and their upstream, and rejects unknown targets', () => {
    assert.equal(runCli(root, ['dag', 'split']).stdout, '1. split\n');
    const bad = runCli(root, ['dag', 'trian']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'error: unknown stage "trian"\nhint: did you mean "train"?\n\n1 error\n');
  });

  it('refuses --mermaid with --dot', () => {
    const result = runCli(root, ['dag', '--mermaid', '--dot']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /choose one of --mermaid and --dot/);
  });
});

describe('pipeline (command line front)', () => {
  const root = makeProject({});

  it('suggests the closest command for a typo and exits 2', () => {
    const result = runCli(root, ['valdiate']);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'error: unknown command "valdiate"\nhint: did you mean "validate"?\nRun `pipeline --help` for the list of commands.\n',
    );
  });

  it('suggests the closest option for a typo', () => {
    const result = runCli(root, ['dag', '--mermiad']);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'error: unknown option --mermiad\nhint: did you mean "--mermaid"?\nRun `pipeline dag --help` for its options.\n',
    );
  });

  it('prints help listing every command, and the version', () => {
    const help = runCli(root, ['--help']);
    assert.equal(help.code, 0);
    for (const command of ['run', 'status', 'dag', 'validate'])
      assert.match(help.stdout, new RegExp(`^  ${command} +\\S`, 'm'));
    const commandHelp = runCli(root, ['dag', '-h']);
    assert.equal(commandHelp.code, 0);
    assert.match(commandHelp.stdout, /^Usage: pipeline dag/);
    assert.match(commandHelp.stdout, /--set <key=value>/);
    assert.match(runCli(root, ['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('a reader that goes away (`pipeline --help | head -0`) ends the output quietly, exit 0', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [cliPath, '--help'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // no reader left: the CLI's first write gets EPIPE
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });

  it('prints help and exits 2 without a command', () => {
    const result = runCli(root, []);
    assert.equal(result.code, 2);
    assert.match(result.stdout, /^Usage: pipeline <command>/);
  });
});
