import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { buildOnnxModel, exportToOnnx } from '../../stages/lib/inference/onnx/export.ts';
import { UnsupportedLayerError } from '../../stages/lib/inference/onnx/errors.ts';
import { ProtoWriter } from '../../stages/lib/inference/onnx/protobuf.ts';
import { tfSamePads } from '../../stages/lib/inference/onnx/tf-padding.ts';
import { assertExportMatches, randomizeWeights, runOnnx, seededValues, useCpuBackend } from './helpers.ts';

before(useCpuBackend);

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('protobuf varints: small, multi-byte and negative int64', () => {
  assert.equal(hex(new ProtoWriter().varint(1).finish()), '01');
  assert.equal(hex(new ProtoWriter().varint(300).finish()), 'ac02');
  assert.equal(hex(new ProtoWriter().varint(-1).finish()), 'ffffffffffffffffff01');
  // field 2, varint 150 → 0x10 0x96 0x01 (the protobuf docs' example)
  assert.equal(hex(new ProtoWriter().int(2, 150).finish()), '109601');
  // field 1, string "hi" → tag 0x0a, length 2
  assert.equal(hex(new ProtoWriter().string(1, 'hi').finish()), '0a026869');
  // field 2, float 1.0 → tag 0x15 and little-endian 0000803f
  assert.equal(hex(new ProtoWriter().float(2, 1).finish()), '150000803f');
});

test('TF same padding puts the odd pixel at the end', () => {
  assert.deepEqual(tfSamePads(224, 3, 2), [0, 1]); // even size, stride 2: pad only bottom/right
  assert.deepEqual(tfSamePads(7, 3, 2), [1, 1]);
  assert.deepEqual(tfSamePads(8, 2, 2), [0, 0]);
  assert.deepEqual(tfSamePads(7, 2, 2), [0, 1]);
  assert.deepEqual(tfSamePads(147, 3, 2), [1, 1]);
  assert.deepEqual(tfSamePads(10, 3, 1), [1, 1]);
});

test('a one-layer conv model round-trips through onnxruntime', async () => {
  const model = tf.sequential({
    layers: [tf.layers.conv2d({ inputShape: [5, 6, 3], filters: 4, kernelSize: 3, padding: 'valid', useBias: true })],
  });
  randomizeWeights(model, 1);
  const input = seededValues(2 * 5 * 6 * 3, 2);
  await assertExportMatches(model, input, [2, 5, 6, 3], 'conv valid');
});

for (const size of [7, 8]) {
  test(`stride-2 'same' conv, max pool and average pool on a ${size}×${size} input match TF.js`, async () => {
    const input = tf.input({ shape: [size, size, 3] });
    const conv = tf.layers
      .conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })
      .apply(input) as tf.SymbolicTensor;
    const maxA = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(input) as tf.SymbolicTensor;
    // Average 'same' excludes padded cells from the count in TF: a border-heavy 2×2/2 pool on odd sizes shows it.
    const avg = tf.layers
      .averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' })
      .apply(input) as tf.SymbolicTensor;
    const maxB = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(input) as tf.SymbolicTensor;
    const merged = tf.layers.concatenate().apply([conv, maxA, avg, maxB]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: merged });
    randomizeWeights(model, 3);
    // Shift inputs positive so that an average that wrongly counted zero pads would be visibly smaller.
    const x = seededValues(2 * size * size * 3, 4, 0.5, 1.5);
    await assertExportMatches(model, x, [2, size, size, 3], `same padding ${size}`);
  });
}

test('batch norm after a conv is folded into it, exactly', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [9, 9, 3],
        filters: 6,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        useBias: false,
      }),
      tf.layers.batchNormalization({ epsilon: 1e-3 }),
      tf.layers.reLU({ maxValue: 6 }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: true }),
      tf.layers.batchNormalization(),
    ],
  });
  randomizeWeights(model, 5);
  const graph = buildOnnxModel(model).model.graph;
  assert.equal(
    graph.nodes.filter((n) => n.opType === 'BatchNormalization').length,
    0,
    'both batch norms should be folded',
  );
  assert.equal(graph.nodes.filter((n) => n.opType === 'Conv').length, 2);
  await assertExportMatches(model, seededValues(2 * 9 * 9 * 3, 6), [2, 9, 9, 3], 'folded BN');
});

test('batch norm is not folded when the conv output has another reader', async () => {
  const input = tf.input({ shape: [6, 6, 4] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 1, useBias: true }).apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization().apply(conv) as tf.SymbolicTensor;
  const sum = tf.layers.add().apply([conv, bn]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: sum });
  randomizeWeights(model, 7);
  const graph = buildOnnxModel(model).model.graph;
  assert.equal(graph.nodes.filter((n) => n.opType === 'BatchNormalization').length, 1);
  await assertExportMatches(model, seededValues(6 * 6 * 4, 8), [1, 6, 6, 4], 'unfolded BN');
});

test('separable conv, zero padding, leaky relu and a nested model match TF.js', async () => {
  const inner = tf.sequential({
    layers: [
      tf.layers.zeroPadding2d({
        inputShape: [8, 8, 3],
        padding: [
          [0, 1],
          [1, 2],
        ],
      }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.1 }),
    ],
  });
  const input = tf.input({ shape: [8, 8, 3] });
  const a = inner.apply(input) as tf.SymbolicTensor; // a nested Sequential called as a layer
  const b = tf.layers
    .separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'relu6' })
    .apply(a) as tf.SymbolicTensor;
  const c = tf.layers.activation({ activation: 'relu' }).apply(tf.layers.add().apply([a, b])) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: c });
  randomizeWeights(model, 9);
  randomizeWeights(inner, 10);
  await assertExportMatches(model, seededValues(3 * 8 * 8 * 3, 11), [3, 8, 8, 3], 'layer mix');
});

test('flatten (in NHWC order), dense, global pooling and reshapes back to maps match TF.js', async () => {
  const input = tf.input({ shape: [4, 4, 3] });
  const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
  const flat = tf.layers.flatten().apply(conv) as tf.SymbolicTensor;
  const dense = tf.layers
    .dense({ units: 12, activation: 'relu' })
    .apply(tf.layers.dropout({ rate: 0.5 }).apply(flat)) as tf.SymbolicTensor;
  const map = tf.layers.reshape({ targetShape: [2, 2, 3] }).apply(dense) as tf.SymbolicTensor;
  const gap = tf.layers
    .reshape({ targetShape: [1, 1, 2] })
    .apply(tf.layers.globalAveragePooling2d({}).apply(conv)) as tf.SymbolicTensor;
  const gapMap = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).apply(
    tf.layers
      .zeroPadding2d({
        padding: [
          [0, 1],
          [0, 1],
        ],
      })
      .apply(gap),
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: tf.layers.concatenate().apply([map, gapMap]) as tf.SymbolicTensor });
  randomizeWeights(model, 12);
  await assertExportMatches(model, seededValues(2 * 4 * 4 * 3, 14), [2, 4, 4, 3], 'flatten/dense/reshape');
});

test('the exported graph takes any batch size', async () => {
  const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [4, 4, 3], filters: 2, kernelSize: 1 })] });
  const bytes = exportToOnnx(model);
  for (const n of [1, 5]) {
    const { maps, pooled } = await runOnnx(bytes, seededValues(n * 48, n), [n, 4, 4, 3]);
    assert.deepEqual(maps.dims, [n, 4, 4, 2]);
    assert.deepEqual(pooled.dims, [n, 2]);
  }
});

test('a layer without an ONNX translation is an UnsupportedLayerError naming it', () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 3], filters: 2, kernelSize: 1 }),
      tf.layers.upSampling2d({ size: [2, 2], name: 'up_here' }),
    ],
  });
  assert.throws(
    () => exportToOnnx(model),
    (e: unknown) =>
      e instanceof UnsupportedLayerError &&
      e.layerName === 'up_here' &&
      e.className === 'UpSampling2D' &&
      /up_here.*UpSampling2D/.test(e.message),
  );
  const softsign = tf.sequential({
    layers: [tf.layers.activation({ inputShape: [4, 4, 3], activation: 'softsign', name: 'act_s' })],
  });
  assert.throws(
    () => exportToOnnx(softsign),
    (e: unknown) => e instanceof UnsupportedLayerError && e.layerName === 'act_s' && /softsign/.test(e.message),
  );
});
