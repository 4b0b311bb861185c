/**
 * The real backbones from ../shared/models, exported to ONNX and run on real
 * photos, against TF.js (cpu backend) as the reference. The small models only:
 * the benchmark (bench/inference.ts) checks all six.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadBackbone } from '../../stages/lib/inference/backbone.ts';
import { decodeImage, toTensorInput, type Preprocess } from '../../stages/lib/data/images.ts';
import { buildOnnxModel, exportToOnnx } from '../../stages/lib/inference/onnx/export.ts';
import { createOnnxRunner } from '../../stages/lib/inference/onnx/runner.ts';
import { assertClose, assertExportMatches, useCpuBackend } from './helpers.ts';

const SHARED = path.resolve(import.meta.dirname, '../../../shared');
const MODELS = path.join(SHARED, 'models');
const PHOTOS = ['cat.2.jpg', 'dog.2.jpg', 'cat.3.jpg'].map((f) => path.join(SHARED, 'datasets/dogs-vs-cats/train', f));

before(useCpuBackend);

async function photoBatch(size: number, preprocess: Preprocess, count = PHOTOS.length): Promise<Float32Array> {
  const pixels = await Promise.all(PHOTOS.slice(0, count).map((f) => decodeImage(f, { size })));
  return toTensorInput(pixels, size, preprocess);
}

const CASES: { folder: string; cutLayer?: string; preprocess: Preprocess; photos: number; covers: string }[] = [
  {
    folder: 'mobilenet_v1_0.25_224',
    cutLayer: 'conv_pw_13_relu',
    preprocess: 'tf',
    photos: 3,
    covers: 'depthwise, relu6, BN folding',
  },
  {
    folder: 'mobilenet_v2_0.35_224_tm',
    preprocess: 'tf',
    photos: 2,
    covers: 'nested Sequential → Model, ZeroPadding2D, ReLU(6), Add',
  },
  {
    folder: 'darknet_tiny_224',
    cutLayer: 'leaky_re_lu_15',
    preprocess: 'unit',
    photos: 2,
    covers: 'leaky relu, max pool same',
  },
];

for (const c of CASES) {
  test(`${c.folder} (${c.covers}): ONNX matches TF.js on real photos`, async (t) => {
    const model = await loadBackbone(path.join(MODELS, c.folder), { cutLayer: c.cutLayer });
    try {
      const size = model.inputs[0].shape[1]!;
      const input = await photoBatch(size, c.preprocess, c.photos);
      const { maxAbsDiff, scale } = await assertExportMatches(model, input, [c.photos, size, size, 3], c.folder);
      t.diagnostic(`max |onnx − tfjs| ${maxAbsDiff.toExponential(2)} at feature scale ${scale.toFixed(3)}`);
    } finally {
      model.dispose();
    }
  });
}

test('the ONNX runner returns the same pooled features and maps as TF.js, through a file', async () => {
  const model = await loadBackbone(path.join(MODELS, 'mobilenet_v1_0.25_224'), { cutLayer: 'conv_pw_13_relu' });
  const dir = await mkdtemp(path.join(tmpdir(), 'onnx-runner-'));
  try {
    const exported = buildOnnxModel(model);
    assert.deepEqual(exported.mapShape, [7, 7, 256]);
    // 2 × multiply-accumulates of MobileNet v1 0.25 @224 (the paper's 41 M MACs, without the classifier).
    assert.ok(Math.abs(exported.flopsPerImage / 1e6 - 81.5) < 1, `FLOPs ${exported.flopsPerImage}`);
    const file = path.join(dir, 'backbone.onnx');
    await writeFile(file, exportToOnnx(model));
    const runner = await createOnnxRunner(file, { inputSize: 224, threads: 1 });
    try {
      const input = await photoBatch(224, 'tf', 2);
      const withMaps = await runner.run(input, 2, { maps: true });
      const pooledOnly = await runner.run(input, 2);
      assert.equal(withMaps.channels, 256);
      assert.equal(withMaps.mapHeight, 7);
      assert.equal(withMaps.mapWidth, 7);
      assert.equal(pooledOnly.maps, undefined);
      assert.deepEqual(pooledOnly.pooled, withMaps.pooled);
      const [refMaps, refPooled] = tf.tidy(() => {
        const y = model.predict(tf.tensor4d(input, [2, 224, 224, 3])) as tf.Tensor4D;
        return [y.dataSync() as Float32Array, tf.mean(y, [1, 2]).dataSync() as Float32Array];
      });
      assertClose(withMaps.maps!, refMaps, 'runner maps');
      assertClose(withMaps.pooled, refPooled, 'runner pooled');
      await assert.rejects(runner.run(input, 3), /expected 3×224×224×3/);
    } finally {
      await runner.dispose();
    }
    await assert.rejects(createOnnxRunner(file, { inputSize: 299 }), /takes 224×224 images/);
  } finally {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
