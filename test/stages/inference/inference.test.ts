/**
 * Choosing what runs the frozen base: onnxruntime when build-model exported it,
 * else TF.js with a warning saying why — never a wrong answer, never a crash.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeImage, toTensorInput } from '../../../stages/lib/data/images.ts';
import { BACKBONE_INFO, BACKBONE_ONNX, openBackboneRunner } from '../../../stages/lib/inference/inference.ts';
import { runtimeParams } from './runtime-params.ts';
import { buildBackbone, SHARED } from '../model/backbone-fixture.ts';

const PHOTO = path.join(SHARED, 'datasets/dogs-vs-cats/train/cat.10.jpg');
let root: string;
let backboneDir: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'inference-'));
  backboneDir = await buildBackbone(root, 'mobilenet_v1_0.25_224', 'conv_pw_13_relu');
});
after(() => rm(root, { recursive: true, force: true }));

const quiet = () => {
  const warnings: string[] = [];
  return { warnings, log: () => {}, warn: (m: string) => void warnings.push(m) };
};

async function pooledOf(choice: string) {
  const logger = quiet();
  const runner = await openBackboneRunner(
    backboneDir,
    runtimeParams({ 'runtime.inference': choice, 'runtime.backend': 'cpu', 'runtime.threads': 0 }),
    logger,
  );
  try {
    const input = toTensorInput([await decodeImage(PHOTO, { size: 224 })], 224, 'tf');
    return { engine: runner.engine, pooled: (await runner.run(input, 1)).pooled, warnings: logger.warnings };
  } finally {
    await runner.dispose();
  }
}

test('auto runs the exported base on onnxruntime; tfjs on TF.js; both give the same features', async () => {
  const onnx = await pooledOf('auto');
  const tfjs = await pooledOf('tfjs');
  assert.equal(onnx.engine, 'onnx');
  assert.equal(tfjs.engine, 'cpu');
  assert.deepEqual(onnx.warnings, []);
  const scale = Math.max(...tfjs.pooled.map(Math.abs));
  const diff = Math.max(...onnx.pooled.map((v, i) => Math.abs(v - tfjs.pooled[i])));
  assert.ok(diff < 5e-4 * scale, `max diff ${diff} at scale ${scale}`);
});

test('when the export failed, auto falls back to TF.js with a warning that says why; onnx refuses', async () => {
  const infoFile = path.join(backboneDir, BACKBONE_INFO);
  const info = JSON.parse(await readFile(infoFile, 'utf8'));
  await rm(path.join(backboneDir, BACKBONE_ONNX));
  await writeFile(
    infoFile,
    JSON.stringify({ ...info, onnx: { exported: false, reason: 'layer "x" (Conv3D) cannot be exported' } }),
  );
  const fallback = await pooledOf('auto');
  assert.equal(fallback.engine, 'cpu');
  assert.equal(fallback.warnings.length, 1);
  assert.match(
    fallback.warnings[0],
    /running the backbone on TF\.js, not ONNX: the export failed: layer "x" \(Conv3D\)/,
  );
  await assert.rejects(pooledOf('onnx'), /runtime\.inference is onnx but build-model has no backbone\.onnx/);
});
