/**
 * The job's quality with int8 features against fp32, from two finished runs of
 * the default job (one with runtime.precision fp32, one with int8; the same split):
 * pooled-feature differences row by row (train, val, test), validation and test
 * log loss / accuracy of each, and how many test predictions change side.
 *
 *   npm run bench:int8-quality -- <fp32 project root> <int8 project root>
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [fp32Root, int8Root] = process.argv.slice(2);
if (!fp32Root || !int8Root) throw new Error('usage: bench/int8-quality.ts <fp32 project root> <int8 project root>');

function featureRows(root: string, stage: string): Map<string, Float32Array> {
  const dir = path.join(root, 'artifacts', stage);
  const { dim } = JSON.parse(readFileSync(path.join(dir, 'features.json'), 'utf8')) as { dim: number };
  const bytes = readFileSync(path.join(dir, 'features.f32'));
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const rows = new Map<string, Float32Array>();
  readFileSync(path.join(dir, 'index.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .forEach((line) => {
      const [row, split, copy, , file] = line.split(',');
      rows.set(`${split}/${copy}/${file}`, all.subarray(Number(row) * dim, (Number(row) + 1) * dim));
    });
  return rows;
}

function compare(a: Map<string, Float32Array>, b: Map<string, Float32Array>, split: string) {
  let maxAbs = 0;
  let sumAbs = 0;
  let sumRef = 0;
  let n = 0;
  let rows = 0;
  let minCos = 1;
  for (const [key, x] of a) {
    if (!key.startsWith(`${split}/`)) continue;
    const y = b.get(key);
    if (!y) continue;
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let k = 0; k < x.length; k++) {
      maxAbs = Math.max(maxAbs, Math.abs(x[k] - y[k]));
      sumAbs += Math.abs(x[k] - y[k]);
      sumRef += Math.abs(y[k]);
      ab += x[k] * y[k];
      aa += x[k] * x[k];
      bb += y[k] * y[k];
      n++;
    }
    minCos = Math.min(minCos, ab / Math.sqrt(aa * bb));
    rows++;
  }
  return { rows, maxAbs, meanAbs: sumAbs / n, meanRef: sumRef / n, minCos };
}

const json = (root: string, file: string) =>
  JSON.parse(readFileSync(path.join(root, 'artifacts', file), 'utf8')) as Record<string, number>;
const predictions = (root: string) =>
  new Map(
    readFileSync(path.join(root, 'artifacts/predict/predictions.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .map(([id, p]) => [id, Number(p)]),
  );

const features = { int8: featureRows(int8Root, 'features'), fp32: featureRows(fp32Root, 'features') };
const testFeatures = { int8: featureRows(int8Root, 'test-features'), fp32: featureRows(fp32Root, 'test-features') };
console.log('pooled features, int8 vs fp32, row by row (same image, same copy):');
console.log('| rows | count | max abs diff | mean abs diff | mean abs fp32 feature | min cosine |');
console.log('|---|---|---|---|---|---|');
for (const [split, pair] of [
  ['train', features],
  ['val', features],
  ['test', testFeatures],
] as const) {
  const c = compare(pair.int8, pair.fp32, split);
  console.log(
    `| ${split} | ${c.rows} | ${c.maxAbs.toFixed(4)} | ${c.meanAbs.toFixed(5)} | ${c.meanRef.toFixed(4)} | ${c.minCos.toFixed(5)} |`,
  );
}

console.log('\n| precision | val log loss | val accuracy | test log loss | test accuracy |');
console.log('|---|---|---|---|---|');
for (const [name, root] of [
  ['fp32', fp32Root],
  ['int8', int8Root],
] as const) {
  const train = json(root, 'train/metrics.json');
  const test = json(root, 'predict/metrics.json');
  console.log(
    `| ${name} | ${train['val_loss']} | ${(100 * train['val_accuracy']).toFixed(2)}% | ${test['log_loss']} | ${(100 * test['accuracy']).toFixed(1)}% |`,
  );
}
const a = predictions(fp32Root);
const b = predictions(int8Root);
let changed = 0;
let maxDelta = 0;
for (const [id, p] of a) {
  const q = b.get(id);
  if (q === undefined) continue;
  if (p >= 0.5 !== q >= 0.5) changed++;
  maxDelta = Math.max(maxDelta, Math.abs(p - q));
}
console.log(
  `\ntest predictions that change side (P(dog) ≥ 0.5): ${changed} of ${a.size}; largest |ΔP(dog)| ${maxDelta.toFixed(4)}`,
);
