/** `pipeline init`: write a new project's starting files from a template shipped with the package. */
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageFile } from '../../package-files.ts';

const TEMPLATES = ['minimal', 'dogs-vs-cats'] as const;
type Template = (typeof TEMPLATES)[number];

/** What .gitignore must hold: what the engine writes, never committed. */
const IGNORED = ['artifacts/', '.pipeline/'];

const usage = `Usage: pipeline init [--template minimal|dogs-vs-cats] [--dir <folder>]

Writes a new project into the current folder (or --dir): pipeline.yaml, a
TypeScript module stage with its declared param rule, a shell stage,
tsconfig.json, and .gitignore entries for artifacts/ and .pipeline/.
Never overwrites a file: if any already exists, nothing is written.

Templates:
  minimal        two stages: a shell stage and a module stage (default)
  dogs-vs-cats   the Kaggle Dogs-vs-Cats transfer-learning job's layout`;

export default async function init(argv: string[]): Promise<number> {
  let values: { template?: string; dir?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        template: { type: 'string', short: 't' },
        dir: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const template = (values.template ?? 'minimal') as Template;
  if (!TEMPLATES.includes(template)) {
    process.stderr.write(`error: unknown template "${values.template}"; one of: ${TEMPLATES.join(', ')}\n`);
    return 2;
  }
  const source = packageFile(`templates/${template}`);
  if (!existsSync(source)) {
    process.stderr.write(`error: template ${template} is not in this install of the package (${source} is missing)\n`);
    return 1;
  }
  const target = path.resolve(values.dir ?? '.');
  const files = listFiles(source);
  const existing = files.filter((file) => existsSync(path.join(target, file)));
  if (existing.length > 0) {
    process.stderr.write(
      `error: not overwriting what is there already: ${existing.join(', ')}\nhint: run init in an empty folder, or move these files away\n`,
    );
    return 1;
  }
  cpSync(source, target, { recursive: true, errorOnExist: true, force: false });
  const gitignore = path.join(target, '.gitignore');
  const present = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : '';
  const missing = IGNORED.filter(
    (entry) => !present.split('\n').some((line) => line.trim() === entry || line.trim() === `/${entry}`),
  );
  if (missing.length > 0)
    appendFileSync(gitignore, `${present && !present.endsWith('\n') ? '\n' : ''}${missing.join('\n')}\n`);
  const shown = path.relative(process.cwd(), target) || '.';
  process.stdout.write(
    `Wrote ${files.join(', ')}${missing.length > 0 ? ', .gitignore' : ''} into ${shown}\n\n${nextSteps(template, shown)}\n`,
  );
  return 0;
}

/** Every file under `dir`, relative to it, sorted. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

function nextSteps(template: Template, dir: string): string {
  const cd = dir === '.' ? '' : `  cd ${dir}\n`;
  if (template === 'dogs-vs-cats') {
    return `Next:
${cd}  npm install @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 onnxruntime-node@1.30.0 sharp@0.34.5
  # put the Kaggle images and an ImageNet backbone where pipeline.yaml's data.* and model.backbone point
  npx pipeline validate       # checks pipeline.yaml and every param against its rules
  npx pipeline run            # runs the job; artifacts/predict/metrics.json has the test score`;
  }
  return `Next:
${cd}  npx pipeline run            # runs both stages; artifacts/report.json is the result
  npx pipeline status         # says which stages are up to date, and why the others are not
  npx pipeline params         # lists the params, their values and rules
  npm install --save-dev typescript @types/node && npx tsc --noEmit   # type-checks the stages`;
}
