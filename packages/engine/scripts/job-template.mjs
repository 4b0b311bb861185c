// Part of `npm run build` in the repository: copies the Dogs-vs-Cats job's layout (pipeline.yaml, stages/) from the
// repository root into templates/dogs-vs-cats/, which `pipeline init --template dogs-vs-cats` writes out. Outside the
// repository (a build from the package's own files) there is no job to copy and the template is left as it is.
import { cpSync, existsSync, rmSync } from 'node:fs';

const job = new URL('../../../', import.meta.url);
const template = new URL('../templates/dogs-vs-cats/', import.meta.url);
if (existsSync(new URL('stages/', job)) && existsSync(new URL('pipeline.yaml', job))) {
  rmSync(template, { recursive: true, force: true });
  cpSync(new URL('stages/', job), new URL('stages/', template), { recursive: true });
  cpSync(new URL('pipeline.yaml', job), new URL('pipeline.yaml', template));
  cpSync(new URL('../templates/minimal/tsconfig.json', import.meta.url), new URL('tsconfig.json', template));
}
