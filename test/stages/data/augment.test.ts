import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AugmentConfigError,
  applyTransform,
  IDENTITY_TRANSFORM,
  isIdentityConfig,
  sampleTransform,
  validateAugmentConfig,
  type Transform,
} from '../../../stages/lib/augment.ts';
import { decodeImage } from '../../../stages/lib/images.ts';
import { createRng } from '../../../stages/lib/random.ts';
import { photo } from './helpers.ts';

/** A test raster whose every pixel is distinct: R = x, G = y, B = (x·7 + y·13) mod 256. */
function gradient(size: number): Uint8Array {
  const img = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      img[o] = x;
      img[o + 1] = y;
      img[o + 2] = (x * 7 + y * 13) % 256;
    }
  }
  return img;
}
const at = (img: Uint8Array, size: number, x: number, y: number) => Array.from(img.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
const t = (over: Partial<Transform>): Transform => ({ ...IDENTITY_TRANSFORM, ...over });

test('a horizontal flip is an exact mirror, on a synthetic image and on a real photo', async () => {
  for (const [img, size] of [[gradient(17), 17], [await decodeImage(photo('dog', 2), { size: 64 }), 64]] as const) {
    const out = applyTransform(img, size, t({ flipHorizontal: true }));
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) assert.deepEqual(at(out, size, x, y), at(img, size, size - 1 - x, y));
    assert.deepEqual(applyTransform(out, size, t({ flipHorizontal: true })), img, 'flipping twice gives the original');
  }
});

test('a vertical flip is an exact mirror of rows', () => {
  const img = gradient(10);
  const out = applyTransform(img, 10, t({ flipVertical: true }));
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) assert.deepEqual(at(out, 10, x, y), at(img, 10, x, 9 - y));
});

test('the identity transform returns the same pixels (a copy), bilinear or nearest', () => {
  const img = gradient(13);
  for (const interp of ['bilinear', 'nearest'] as const) {
    const out = applyTransform(img, 13, IDENTITY_TRANSFORM, 'constant', 0, interp);
    assert.deepEqual(out, img);
    assert.notEqual(out, img);
  }
  // Zoom 1 and zero angles reached through the warp path are exact too.
  assert.deepEqual(applyTransform(img, 13, t({ zx: 1, zy: 1, theta: 0, shear: 0, tx: 0 })), img);
});

test('a known shift moves the content by whole pixels (positive tx samples to the right: content moves left)', () => {
  const size = 10;
  const img = gradient(size);
  const out = applyTransform(img, size, t({ tx: 0.2 }), 'constant', 9);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      assert.deepEqual(at(out, size, x, y), x + 2 < size ? at(img, size, x + 2, y) : [9, 9, 9], `(${x},${y})`);
    }
  }
  const down = applyTransform(img, size, t({ ty: -0.1 }), 'nearest');
  for (let x = 0; x < size; x++) {
    assert.deepEqual(at(down, size, x, 0), at(img, size, x, 0), 'nearest fill repeats the edge row');
    for (let y = 1; y < size; y++) assert.deepEqual(at(down, size, x, y), at(img, size, x, y - 1));
  }
});

test('fill modes: reflect mirrors and wrap cycles what lies past the edge', () => {
  const size = 6;
  const img = gradient(size);
  const reflect = applyTransform(img, size, t({ tx: 2 / size }), 'reflect');
  assert.deepEqual(at(reflect, size, 4, 0), at(img, size, 5, 0)); // x = 6 → 5
  assert.deepEqual(at(reflect, size, 5, 0), at(img, size, 4, 0)); // x = 7 → 4
  const wrap = applyTransform(img, size, t({ tx: 2 / size }), 'wrap');
  assert.deepEqual(at(wrap, size, 4, 0), at(img, size, 0, 0));
  assert.deepEqual(at(wrap, size, 5, 0), at(img, size, 1, 0));
});

test('a 90° rotation about the centre is an exact permutation with nearest sampling', () => {
  const size = 9;
  const img = gradient(size);
  const out = applyTransform(img, size, t({ theta: 90 }), 'constant', 0, 'nearest');
  // M maps output (x, y) to input (size−1−y, x).
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) assert.deepEqual(at(out, size, x, y), at(img, size, size - 1 - y, x));
});

test('zoom > 1 zooms out (Keras semantics): the centre stays, content shrinks toward it', () => {
  const size = 21;
  const img = gradient(size);
  const out = applyTransform(img, size, t({ zx: 2, zy: 2 }), 'constant', 0, 'nearest');
  assert.deepEqual(at(out, size, 10, 10), at(img, size, 10, 10));
  assert.deepEqual(at(out, size, 12, 10), at(img, size, 14, 10));
  assert.deepEqual(at(out, size, 0, 0), [0, 0, 0], 'corners sample outside → cval');
});

test('bilinear warps of a real photo are fast enough for 299×299 on the hot path', async () => {
  const size = 299;
  const img = await decodeImage(photo('cat', 2), { size });
  const cfg = validateAugmentConfig({ rotation_range: 20, shear_range: 10, zoom_range: 0.2, width_shift_range: 0.1, height_shift_range: 0.1, horizontal_flip: true });
  const rng = createRng(1);
  applyTransform(img, size, sampleTransform(cfg, rng)); // warm up
  const start = performance.now();
  for (let i = 0; i < 10; i++) applyTransform(img, size, sampleTransform(cfg, rng), 'reflect');
  const ms = (performance.now() - start) / 10;
  assert.ok(ms < 40, `${ms.toFixed(1)} ms per 299×299 warp`);
});

test('validateAugmentConfig fills defaults and expands a scalar zoom_range', () => {
  const cfg = validateAugmentConfig({ shear_range: 0.2, zoom_range: 0.2, horizontal_flip: true, copies: 2, seed: 5 });
  assert.deepEqual(cfg.zoom_range, [0.8, 1.2]);
  assert.equal(cfg.fill_mode, 'nearest');
  assert.equal(cfg.rotation_range, 0);
  assert.equal(cfg.copies, 2);
  assert.deepEqual(validateAugmentConfig({ zoom_range: [0.9, 1.3] }).zoom_range, [0.9, 1.3]);
  assert.equal(isIdentityConfig(validateAugmentConfig(undefined)), true);
  assert.equal(isIdentityConfig(cfg), false);
});

test('out-of-range values are rejected with the key, the allowed range and the value', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ zoom_range: 1.5 }, /augment\.zoom_range must be in \[0, 1\).*got 1\.5/],
    [{ zoom_range: [1.2, 0.8] }, /augment\.zoom_range as a pair must satisfy 0 < lo ≤ hi ≤ 10, got \[1\.2, 0\.8\]/],
    [{ rotation_range: -5 }, /augment\.rotation_range must be a number in \[0, 180\], got -5/],
    [{ width_shift_range: 1 }, /augment\.width_shift_range must be a number in \[0, 1\), got 1/],
    [{ height_shift_range: 'wide' }, /augment\.height_shift_range must be a number in \[0, 1\), got "wide"/],
    [{ shear_range: 90 }, /augment\.shear_range must be a number in \[0, 90\), got 90/],
    [{ horizontal_flip: 'yes' }, /augment\.horizontal_flip must be true or false, got "yes"/],
    [{ fill_mode: 'edge' }, /augment\.fill_mode must be one of nearest, constant, reflect, wrap, got "edge"/],
    [{ copies: 1.5 }, /augment\.copies must be an integer in \[0, 100\], got 1\.5/],
    [{ cval: 300 }, /augment\.cval must be a number in \[0, 255\], got 300/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(() => validateAugmentConfig(raw), (e: unknown) => e instanceof AugmentConfigError && message.test(e.message), JSON.stringify(raw));
  }
  assert.throws(() => validateAugmentConfig([1, 2]), /augment must be a mapping/);
});

test('unknown keys are rejected with a did-you-mean; unsupported Keras options are named as such; all problems are listed', () => {
  assert.throws(() => validateAugmentConfig({ zoom_rnage: 0.2 }), /augment\.zoom_rnage is not a known key \(did you mean zoom_range\?\)/);
  assert.throws(() => validateAugmentConfig({ horizontalFlip: true }), /did you mean horizontal_flip\?/);
  assert.throws(() => validateAugmentConfig({ channel_shift_range: 10 }), /channel_shift_range is a Keras ImageDataGenerator option this pipeline does not implement/);
  assert.throws(
    () => validateAugmentConfig({ colour: 1, zoom_range: 3 }),
    (e: unknown) => e instanceof AugmentConfigError && e.problems.length === 2 && /colour is not a known key;/.test(e.message),
  );
});

test('sampleTransform is seeded, stays in range and only flips when enabled', () => {
  const cfg = validateAugmentConfig({ rotation_range: 10, width_shift_range: 0.1, shear_range: 5, zoom_range: [0.9, 1.1], horizontal_flip: true });
  const a = Array.from({ length: 50 }, ((rng) => () => sampleTransform(cfg, rng))(createRng(3)));
  const b = Array.from({ length: 50 }, ((rng) => () => sampleTransform(cfg, rng))(createRng(3)));
  assert.deepEqual(a, b);
  for (const tr of a) {
    assert.ok(Math.abs(tr.theta) <= 10 && Math.abs(tr.tx) <= 0.1 && tr.ty === 0 && Math.abs(tr.shear) <= 5);
    assert.ok(tr.zx >= 0.9 && tr.zx <= 1.1 && tr.zy >= 0.9 && tr.zy <= 1.1);
    assert.equal(tr.flipVertical, false);
  }
  const flips = a.filter((tr) => tr.flipHorizontal).length;
  assert.ok(flips > 10 && flips < 40, `${flips}/50 flipped`);
});
