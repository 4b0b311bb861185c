/**
 * Declared param rules, end to end through the real CLI: the job's pipeline.yaml
 * (its params exactly as in the repo) in a temp project whose stage modules are
 * counting stand-ins, each next to a `<stage>.params.ts` that re-exports the
 * repo stage's real declaration.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { loadPipeline } from '../../packages/engine/src/config/load.ts';
import { paramsSchema } from '../../packages/engine/src/config/params-schema.ts';
import { Project } from '../engine/project-fixture.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const repoYaml = readFileSync(path.join(REPO, 'pipeline.yaml'), 'utf8');
const MODULES = [...repoYaml.matchAll(/^\s+module: stages\/([\w-]+)\.ts$/gm)].map((m) => m[1]);

const projects: Project[] = [];
after(() => projects.forEach((p) => p.remove()));

/** The repo's pipeline.yaml with data paths moved into the project (same lines) and stand-in stages. */
function jobProject(edit: (yaml: string) => string = (y) => y): Project {
  const files: Record<string, string> = {
    'pipeline.yaml': edit(
      repoYaml
        .replaceAll('../shared/datasets/dogs-vs-cats/', 'data/')
        .replace('../shared/models/xception_block13_299', 'data/backbone'),
    ),
    'data/train/cat.1.jpg': 'x',
    'data/test/1.jpg': 'x',
    'data/test_labels.csv': 'id,label\n1,0\n',
    'data/backbone/model.json': '{}',
    // ES modules, as in the repo: the declarations re-export the repo's.
    'package.json': '{ "type": "module" }\n',
  };
  for (const name of MODULES) {
    files[`stages/${name}.ts`] = `import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
export default {
  async run(ctx: { root: string; stage: string; outs: readonly string[] }) {
    appendFileSync(join(ctx.root, 'counts.txt'), ctx.stage + '\\n');
    for (const out of ctx.outs) mkdirSync(out, { recursive: true });
  },
};
`;
    if (existsSync(path.join(REPO, `stages/${name}.params.ts`)))
      files[`stages/${name}.params.ts`] =
        `export { default } from ${JSON.stringify(path.join(REPO, `stages/${name}.params.ts`))};\n`;
  }
  const project = new Project(files);
  projects.push(project);
  return project;
}

/** 1-based line of the first line matching `pattern` in the project's pipeline.yaml. */
function lineOf(project: Project, pattern: RegExp): number {
  const index = project
    .read('pipeline.yaml')
    .split('\n')
    .findIndex((line) => pattern.test(line));
  assert.notEqual(index, -1, `no line matches ${pattern}`);
  return index + 1;
}

const BAD = [
  {
    key: 'train.lr',
    from: /^(\s+lr:) \{ adam: 0\.003 \}/m,
    value: 'fast',
    col: 9,
    message:
      'train.lr must be a number > 0, auto, or a mapping adam / adadelta / sgd / rmsprop → number > 0, got "fast"',
  },
  {
    key: 'train.epochs',
    from: /^(\s+epochs:) 50/m,
    value: '-5',
    col: 13,
    message: 'train.epochs must be an integer ≥ 1, got -5',
  },
  {
    key: 'train.optimizer',
    from: /^(\s+optimizer:) adam/m,
    value: 'adamw',
    col: 16,
    message: 'train.optimizer must be one of adam, adadelta, sgd, rmsprop, got "adamw"',
    hint: 'hint: did you mean "adam"? allowed: adam, adadelta, sgd, rmsprop',
  },
  {
    key: 'predict.clip',
    from: /^(\s+clip:) 0\.001/m,
    value: '2',
    col: 11,
    message: 'predict.clip must be a number in [0, 0.5) (0 or false = off), got 2',
  },
];

/** Nothing ran: no stage counted, no stage log written, no stack trace printed. */
function assertNothingStarted(project: Project, output: string): void {
  assert.deepEqual(project.counts(), {});
  assert.equal(project.exists('.pipeline/logs'), false, 'a stage log was written');
  assert.doesNotMatch(output, /^\s+at /m, 'a stack trace was printed');
}

describe('declared param rules (real CLI)', () => {
  it('the job as committed is valid and every stand-in stage runs (the control for "nothing started")', async () => {
    const project = jobProject();
    const result = await project.run('run');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(Object.keys(project.counts()).sort(), [...MODULES].sort());
  });

  for (const bad of BAD) {
    it(`${bad.key}: ${bad.value} in pipeline.yaml is reported at its line:col by validate, status and run; nothing starts`, async () => {
      const project = jobProject((yaml) => yaml.replace(bad.from, `$1 ${bad.value}`));
      const line = lineOf(project, new RegExp(`^\\s+${bad.key.split('.')[1]}: ${bad.value}(\\s|$)`));
      for (const command of ['validate', 'status', 'run']) {
        const result = await project.run(command);
        assert.equal(result.code, 1, `${command}: ${result.stderr}`);
        const lines = result.stderr.split('\n');
        const at = lines.indexOf(`pipeline.yaml:${line}:${bad.col}: ${bad.message}`);
        assert.notEqual(at, -1, `${command} did not locate the value:\n${result.stderr}`);
        assert.match(
          lines[at + 2],
          new RegExp(`^\\s+\\| {${bad.col}}\\^~{${bad.value.length - 1}}$`),
          'underline under the value',
        );
        if (bad.hint) assert.equal(lines[at + 3], bad.hint);
        assertNothingStarted(project, result.stdout + result.stderr);
      }
    });

    it(`${bad.key}=${bad.value} through --set names the flag; nothing starts`, async () => {
      const project = jobProject();
      for (const command of ['validate', 'status', 'run']) {
        const result = await project.run(command, '--set', `${bad.key}=${bad.value}`);
        assert.equal(result.code, 1, `${command}: ${result.stderr}`);
        assert.match(result.stderr, new RegExp(`^error: --set ${bad.key}=${bad.value}: ${escape(bad.message)}$`, 'm'));
        assertNothingStarted(project, result.stdout + result.stderr);
      }
    });
  }

  it('reports every bad value at once', async () => {
    const project = jobProject((yaml) => BAD.reduce((y, bad) => y.replace(bad.from, `$1 ${bad.value}`), yaml));
    const result = await project.run('validate', '--set', 'visualize.alpha=2', '--set', 'augment.copies=-1');
    assert.equal(result.code, 1);
    for (const bad of BAD) assert.ok(result.stderr.includes(bad.message), `missing: ${bad.message}`);
    assert.match(result.stderr, /visualize\.alpha must be a number in \[0, 1\], got 2/);
    assert.match(
      result.stderr,
      /^error: --set augment\.copies=-1: augment\.copies must be an integer in \[0, 100\], got -1$/m,
    );
    assert.match(result.stderr, /\n6 errors\n$/);
  });

  it('a param a declaration names but the stage does not list is an error at its params: list', async () => {
    const project = jobProject((yaml) => yaml.replace('train.patience, train.seed,', 'train.patience,'));
    const result = await project.run('validate');
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /: stage "train" reads param "train\.seed" \(stages\/train\.params\.ts\) but its params: list does not name it\n/,
    );
    assert.match(result.stderr, /hint: add train\.seed to the params: list of stage "train"/);
  });

  it('a cmd: stage has no rules: any value passes', async () => {
    const project = new Project({
      'pipeline.yaml':
        'params:\n  train: { lr: fast }\nstages:\n  echo:\n    cmd: echo ${params.train.lr} > out.txt\n    outs: [out.txt]\n',
    });
    projects.push(project);
    assert.equal((await project.run('validate')).code, 0);
    const result = await project.run('run', '--set', 'train.lr=-5');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(project.read('out.txt'), '-5\n');
  });

  it('a declaration that is not a mapping of rules is an error at the module', async () => {
    const project = jobProject();
    project.write('stages/train.params.ts', 'export default { "train.lr": { min: 0 } };\n');
    const result = await project.run('validate');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /stages\/train\.params\.ts: the rule of "train\.lr" is not a param rule/);
  });

  it('pipeline params lists each param with value, rule, default, stages and description', async () => {
    const project = jobProject();
    const result = await project.run('params', '--set', 'train.lr=0.01');
    assert.equal(result.code, 0, result.stderr);
    const row = result.stdout.split('\n').find((l) => l.startsWith('train.lr '));
    assert.match(
      row ?? '',
      /^train\.lr\s+0\.01\s+a number > 0, auto, or a mapping adam \/ adadelta \/ sgd \/ rmsprop → number > 0\s+train\s+learning rate; auto or unset = Keras' default/,
    );
    assert.match(
      result.stdout,
      /^augment\.zoom_range\s+0\.2\s+a number in \[0, 1\), or a pair \[lo, hi\] with 0 < lo ≤ hi ≤ 10\s+0\s+augment-config\s+random zoom/m,
    );
    assert.match(
      result.stdout,
      /^augment\.fill_mode\s+nearest\s+one of nearest, constant, reflect, wrap\s+nearest\s+augment-config\s+how points outside/m,
    );
    const json = JSON.parse((await project.run('params', '--json')).stdout) as Array<{ key: string; stages: string[] }>;
    assert.deepEqual(json.find((r) => r.key === 'runtime.backend')?.stages, [
      'build-model',
      'features',
      'train',
      'test-features',
      'visualize',
    ]);
  });
});

describe('loading the declarations', () => {
  it("imports neither TF.js nor onnxruntime (validate stays fast): the job's pipeline.yaml validates with both refused", () => {
    // A resolve hook that fails any import of them; the control below proves the hook bites.
    const hook = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(
      'data:text/javascript,export async function resolve(s, c, next) { if (/^@tensorflow\\/|^onnxruntime/.test(s)) throw new Error("refused import " + s); return next(s, c); }',
    )});`;
    const cli = (file: string) =>
      spawnSync(
        process.execPath,
        ['--import', hook, path.join(REPO, 'packages/engine/bin/pipeline.js'), 'validate', '-f', file],
        { encoding: 'utf8' },
      );
    const job = cli(jobProject().path('pipeline.yaml'));
    assert.equal(job.status, 0, job.stderr);
    const project = jobProject();
    project.write(
      'stages/train.params.ts',
      `import '@tensorflow/tfjs';\nexport { default } from ${JSON.stringify(path.join(REPO, 'stages/train.params.ts'))};\n`,
    );
    const control = cli(project.path('pipeline.yaml'));
    assert.equal(control.status, 1);
    assert.match(control.stderr, /stages\/train\.params\.ts cannot be loaded: refused import @tensorflow\/tfjs/);
  });
});

describe('user errors inside a stage (real CLI)', () => {
  const failing = (body: string) => {
    const project = new Project({
      'pipeline.yaml': 'stages:\n  s:\n    module: stages/s.ts\n    outs: [artifacts/s]\n',
      'stages/s.ts': `import { readdirSync } from 'node:fs';
import { StageUserError } from ${JSON.stringify(path.join(REPO, 'packages/engine/src/contract.ts'))};
export default { async run() { ${body} } };
`,
    });
    projects.push(project);
    return project;
  };
  const logOf = (project: Project) => {
    const dir = project.path('.pipeline/logs/s');
    return readFileSync(path.join(dir, readdirSync(dir)[0]), 'utf8');
  };

  it('a StageUserError is one line with the log path; its stack stays in the log (and --verbose shows it)', async () => {
    const project = failing(`throw new StageUserError('no images in data/x: expected cat.N.jpg or cat/ and dog/');`);
    const result = await project.run('run');
    assert.equal(result.code, 1);
    const output = result.stdout + result.stderr;
    assert.match(
      result.stderr,
      /^error: stage s failed \(no images in data\/x: expected cat\.N\.jpg or cat\/ and dog\/\) — log: \.pipeline\/logs\/s\/\S+\.log$/m,
    );
    assert.doesNotMatch(output, /^\s+at /m);
    assert.match(logOf(project), /StageUserError: no images in data\/x[^\n]*\n\s+at /);
    const verbose = await project.run('run', '--verbose');
    assert.equal(verbose.code, 1);
    assert.match(verbose.stdout + verbose.stderr, /StageUserError: no images[^\n]*\n.*\s+at /);
  });

  it('a missing folder (ENOENT) is a user error too', async () => {
    const result = await failing(`readdirSync('data/missing');`).run('run');
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /error: stage s failed \(ENOENT: no such file or directory, scandir 'data\/missing'\) — log: /,
    );
    assert.doesNotMatch(result.stdout + result.stderr, /^\s+at /m);
  });

  it('a bug keeps its stack trace on the terminal', async () => {
    const result = await failing(`(undefined as unknown as { x: number }).x;`).run('run');
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /TypeError: Cannot read properties of undefined[^\n]*\n.*\s+at /);
  });
});

describe('data.classes (a list param)', () => {
  it('a list of fewer than two or repeated names is reported at its line by validate; a list of two or more is valid', async () => {
    for (const [value, shown] of [
      ['[katze]', '["katze"]'],
      ['[katze, katze]', '["katze","katze"]'],
      ['katze', '"katze"'],
    ] as const) {
      const project = jobProject((yaml) => yaml.replace(/^(\s+classes:)/m, `$1 ${value}`));
      const line = lineOf(project, /^\s+classes: /);
      const result = await project.run('validate');
      assert.equal(result.code, 1, result.stderr);
      assert.ok(
        result.stderr.includes(
          `pipeline.yaml:${line}:14: data.classes must be a list of 2 or more distinct names, or empty, got ${shown}`,
        ),
        result.stderr,
      );
    }
    const good = jobProject((yaml) => yaml.replace(/^(\s+classes:)/m, '$1 [katze, hund]'));
    const result = await good.run('validate');
    assert.equal(result.code, 0, result.stderr);
  });
});

describe('schemas/params.schema.json', () => {
  const schemaFile = path.join(REPO, 'schemas/params.schema.json');

  it("is what the stages' declarations generate (regenerate: npm run schema:params)", async () => {
    const loaded = await loadPipeline(path.join(REPO, 'pipeline.yaml'));
    assert.ok(loaded.ok);
    assert.deepEqual(
      JSON.parse(readFileSync(schemaFile, 'utf8')),
      paramsSchema(loaded.pipeline),
      'stale: run npm run schema:params',
    );
  });

  it('flags the four bad values for an editor and accepts the job as committed', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const engine = JSON.parse(
      readFileSync(path.join(REPO, 'packages/engine/schemas/pipeline.schema.json'), 'utf8'),
    ) as { $id: string };
    ajv.addSchema(engine, 'pipeline.schema.json');
    const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object);
    const job = () => structuredClone(loadYamlParams());
    assert.equal(validate(job()), true, JSON.stringify(validate.errors));
    const classes = (value: unknown) => {
      const doc = job();
      (doc.params['data'] as Record<string, unknown>)['classes'] = value;
      return validate(doc);
    };
    assert.equal(classes(['katze', 'hund']), true, 'a list of two classes');
    for (const bad of [['katze'], ['a', 'a'], 'katze', [1, 2]])
      assert.equal(classes(bad), false, `data.classes: ${JSON.stringify(bad)} passed the editor schema`);
    for (const bad of BAD) {
      const doc = job();
      const [group, name] = bad.key.split('.') as [string, string];
      (doc.params[group] as Record<string, unknown>)[name] = Number.isNaN(Number(bad.value))
        ? bad.value
        : Number(bad.value);
      assert.equal(validate(doc), false, `${bad.key}: ${bad.value} passed the editor schema`);
    }
  });
});

function loadYamlParams(): { params: Record<string, unknown>; stages: unknown } {
  return parseYaml(repoYaml) as { params: Record<string, unknown>; stages: unknown };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
