/**
 * The repo's Dogs-vs-Cats pipeline.yaml for a temp project of tests and benches: the same stages, and the same params
 * but for the values a caller overrides. Params the job gains later reach every such project without an edit here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

const REPO_PIPELINE = fileURLToPath(new URL('../pipeline.yaml', import.meta.url));

/** `overrides`: param group → key → value, e.g. `{ runtime: { batch_size: 2 }, train: { epochs: 1 } }`. */
export function jobPipelineYaml(overrides: Record<string, Record<string, unknown>>): string {
  const doc = parseDocument(readFileSync(REPO_PIPELINE, 'utf8'));
  for (const [group, values] of Object.entries(overrides)) {
    for (const [key, value] of Object.entries(values)) doc.setIn(['params', group, key], value);
  }
  return doc.toString();
}
