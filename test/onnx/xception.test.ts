/**
 * The default backbone, exported exactly as build-model exports it: the
 * Xception cut at add_12 (../shared/models/xception_block13_299), ONNX on
 * onnxruntime against TF.js on 2 real photos. TF.js runs on WASM here: the
 * pure-JS backend needs about 25 s per Xception image on 2 cores, WASM under 1 s.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadBackbone } from '../../stages/lib/inference/backbone.ts';
import { decodeImage, toTensorInput } from '../../stages/lib/data/images.ts';
import { assertExportMatches } from './helpers.ts';
import { HUNG_AFTER_MS } from '../failsafe.ts';

const SHARED = path.resolve(import.meta.dirname, '../../../shared');
const XCEPTION = path.join(SHARED, 'models/xception_block13_299');
const PHOTOS = ['cat.2.jpg', 'dog.2.jpg'].map((f) => path.join(SHARED, 'datasets/dogs-vs-cats/train', f));
const available = existsSync(XCEPTION) && PHOTOS.every((f) => existsSync(f));

let previousBackend = '';
before(async () => {
  previousBackend = tf.getBackend();
  await tf.setBackend('wasm');
  await tf.ready();
});
after(async () => {
  if (previousBackend) await tf.setBackend(previousBackend);
});

test(
  'the default Xception cut (add_12) exports to ONNX and matches TF.js on 2 real photos',
  { skip: !available && 'shared model or photos not present', timeout: HUNG_AFTER_MS },
  async (t) => {
    const model = await loadBackbone(XCEPTION, { cutLayer: 'add_12' });
    try {
      assert.deepEqual(model.outputs[0].shape, [null, 10, 10, 1024], 'the cut the job uses: 10×10×1024 maps');
      const pixels = await Promise.all(PHOTOS.map((f) => decodeImage(f, { size: 299 })));
      const input = toTensorInput(pixels, 299, 'tf');
      const { maxAbsDiff, scale } = await assertExportMatches(
        model,
        input,
        [PHOTOS.length, 299, 299, 3],
        'xception_block13_299 @ add_12',
      );
      t.diagnostic(`max |onnx − tfjs| ${maxAbsDiff.toExponential(2)} at feature scale ${scale.toFixed(3)}`);
    } finally {
      model.dispose();
    }
  },
);
