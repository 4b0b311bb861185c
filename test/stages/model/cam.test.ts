import assert from 'node:assert/strict';
import { test } from 'node:test';
import { camHeatmap, classActivationMap, normalise, upsample } from '../../../stages/lib/model/cam.ts';

// 2×2 maps with 3 channels, NHWC: position p, channel k = value.
// p0: [1,0,0] p1: [0,1,0] p2: [0,0,1] p3: [1,1,1]
const maps = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]);

test('CAM is the weighted sum of the maps per position', () => {
  const cam = classActivationMap(maps, 2, 2, [2, -1, 0.5]);
  assert.deepEqual(Array.from(cam), [2, -1, 0.5, 1.5]);
  // The cat map is the dog map negated.
  assert.deepEqual(Array.from(classActivationMap(maps, 2, 2, [-2, 1, -0.5])), [-2, 1, -0.5, -1.5]);
});

test('normalisation maps min→0, max→1', () => {
  assert.deepEqual(Array.from(normalise(new Float32Array([2, -1, 0.5, 1.5]))), [1, 0, 0.5, 2.5 / 3].map(Math.fround));
  assert.deepEqual(Array.from(normalise(new Float32Array([3, 3]))), [0, 0]);
});

test('upsampling keeps corners and interpolates between them', () => {
  const up = upsample(new Float32Array([0, 1, 2, 3]), 2, 2, 4, 4);
  assert.equal(up[0], 0);
  assert.equal(up[15], 3);
  // Row 0: x centres map to -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped 1).
  assert.deepEqual(Array.from(up.slice(0, 4)), [0, 0.25, 0.75, 1]);
  // Column 0 goes through 0 → 2 the same way.
  assert.deepEqual([up[0], up[4], up[8], up[12]], [0, 0.5, 1.5, 2]);
});

test('heatmap peaks where the weighted evidence is', () => {
  const heat = camHeatmap(maps, 2, 2, [2, -1, 0.5], 2);
  assert.deepEqual(Array.from(heat), Array.from(normalise(new Float32Array([2, -1, 0.5, 1.5]))));
  assert.equal(heat.indexOf(Math.max(...heat)), 0);
});

test('shape mismatch is a clear error', () => {
  assert.throws(() => classActivationMap(maps, 2, 2, [1, 1]), /expected 2×2×2/);
});
