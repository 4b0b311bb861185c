import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AugmentConfigError,
  applyTransform,
  IDENTITY_TRANSFORM,
  isIdentityConfig,
  sampleTransform,
  transformMatrix,
  validateAugmentConfig,
  type Transform,
} from '../../../stages/lib/data/augment.ts';
import { decodeImage } from '../../../stages/lib/data/images.ts';
import { createRng } from '../../../stages/lib/data/random.ts';
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
const at = (img: Uint8Array, size: number, x: number, y: number) =>
  Array.from(img.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
const t = (over: Partial<Transform>): Transform => ({ ...IDENTITY_TRANSFORM, ...over });

test('a horizontal flip is an exact mirror, on a synthetic image and on a real photo', async () => {
  for (const [img, size] of [
    [gradient(17), 17],
    [await decodeImage(photo('dog', 2), { size: 64 }), 64],
  ] as const) {
    const out = applyTransform(img, size, t({ flipHorizontal: true }));
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) assert.deepEqual(at(out, size, x, y), at(img, size, size - 1 - x, y));
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

/**
 * Keras 2.0's published recipe (keras/preprocessing/image.py, random_transform +
 * transform_matrix_offset_center), written out here from the formula with plain
 * 3×3 products, independently of transformMatrix: in (row, col) coordinates
 * M = O · R(θ) · T(tx·h, ty·w) · Sh(s) · Z(zx, zy) · O⁻¹ with O the shift by h/2 + 0.5.
 */
function kerasMatrix(
  theta: number,
  tx: number,
  ty: number,
  shear: number,
  zx: number,
  zy: number,
  size: number,
): number[] {
  type M3 = number[][];
  const dot = (p: M3, q: M3): M3 => p.map((row) => q[0].map((_, j) => row.reduce((sum, v, k) => sum + v * q[k][j], 0)));
  const th = (Math.PI / 180) * theta;
  const rotation = [
    [Math.cos(th), -Math.sin(th), 0],
    [Math.sin(th), Math.cos(th), 0],
    [0, 0, 1],
  ];
  const translation = [
    [1, 0, tx * size],
    [0, 1, ty * size],
    [0, 0, 1],
  ];
  const shearM = [
    [1, -Math.sin(shear), 0],
    [0, Math.cos(shear), 0],
    [0, 0, 1],
  ];
  const zoom = [
    [zx, 0, 0],
    [0, zy, 0],
    [0, 0, 1],
  ];
  const o = size / 2 + 0.5;
  const offset = [
    [1, 0, o],
    [0, 1, o],
    [0, 0, 1],
  ];
  const reset = [
    [1, 0, -o],
    [0, 1, -o],
    [0, 0, 1],
  ];
  const m = dot(dot(offset, dot(dot(dot(rotation, translation), shearM), zoom)), reset);
  return [m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]];
}

test("the transform matrix is Keras 2.0's (rows first, shear in radians, rotation in degrees, centre side/2 + 0.5)", () => {
  const cases: [number, number, number, number, number, number, number][] = [
    [0, 0, 0, 0.2, 1, 1, 299], // the notebook's shear alone
    [0, 0, 0, 0, 0.8, 1.2, 299], // the notebook's zoom extremes, rows and columns apart
    [30, 0, 0, 0, 1, 1, 224],
    [-17, 0.1, -0.05, -0.15, 1.1, 0.9, 299],
    [90, 0.2, 0.3, 0.5, 0.7, 1.3, 9],
  ];
  for (const [theta, tx, ty, shear, zx, zy, size] of cases) {
    const ours = transformMatrix(t({ theta, tx, ty, shear, zx, zy }), size);
    const keras = kerasMatrix(theta, tx, ty, shear, zx, zy, size);
    ours.forEach((v, i) =>
      assert.ok(
        Math.abs(v - keras[i]) < 1e-9,
        `θ ${theta} shear ${shear} size ${size}: entry ${i} ${v} vs Keras ${keras[i]}`,
      ),
    );
  }
  // One by hand: shear 0.2 rad (≈ 11.46°) on 299 px, sin 0.2 = 0.198669, cos 0.2 = 0.980067, o = 150.
  const [a, b, c, d, e, f] = transformMatrix(t({ shear: 0.2 }), 299);
  assert.deepEqual([a, d], [1, 0]);
  assert.ok(Math.abs(b + 0.198669) < 1e-6 && Math.abs(e - 0.980067) < 1e-6);
  assert.ok(Math.abs(c - 150 * 0.198669) < 1e-4, `row offset ${c}`);
  assert.ok(Math.abs(f - 150 * (1 - 0.980067)) < 1e-4, `column offset ${f}`);
});

test('a warp samples input (row, col) = M · (row, col) with nearest neighbours, as scipy affine_transform with order 0', () => {
  const size = 31;
  const img = gradient(size);
  const tr = t({ theta: 12, tx: 0.05, ty: -0.08, shear: 0.2, zx: 0.9, zy: 1.15 });
  const out = applyTransform(img, size, tr, 'nearest');
  const [a, b, c, d, e, f] = kerasMatrix(12, 0.05, -0.08, 0.2, 0.9, 1.15, size);
  const clamp = (v: number) => Math.min(size - 1, Math.max(0, v));
  for (let r = 0; r < size; r++) {
    for (let col = 0; col < size; col++) {
      const inRow = clamp(Math.round(a * r + b * col + c));
      const inCol = clamp(Math.round(d * r + e * col + f));
      assert.deepEqual(at(out, size, col, r), at(img, size, inCol, inRow), `(${r},${col})`);
    }
  }
});

test('a known shift moves the content by whole pixels: tx along rows (content moves up), ty along columns (content moves left)', () => {
  const size = 10;
  const img = gradient(size);
  const up = applyTransform(img, size, t({ tx: 0.2 }), 'constant', 9);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      assert.deepEqual(at(up, size, x, y), y + 2 < size ? at(img, size, x, y + 2) : [9, 9, 9], `(${x},${y})`);
    }
  }
  const right = applyTransform(img, size, t({ ty: -0.1 }), 'nearest');
  for (let y = 0; y < size; y++) {
    assert.deepEqual(at(right, size, 0, y), at(img, size, 0, y), 'nearest fill repeats the edge column');
    for (let x = 1; x < size; x++) assert.deepEqual(at(right, size, x, y), at(img, size, x - 1, y));
  }
});

test('fill modes: reflect mirrors and wrap cycles what lies past the edge', () => {
  const size = 6;
  const img = gradient(size);
  const reflect = applyTransform(img, size, t({ ty: 2 / size }), 'reflect');
  assert.deepEqual(at(reflect, size, 4, 0), at(img, size, 5, 0)); // x = 6 → 5
  assert.deepEqual(at(reflect, size, 5, 0), at(img, size, 4, 0)); // x = 7 → 4
  const wrap = applyTransform(img, size, t({ ty: 2 / size }), 'wrap');
  assert.deepEqual(at(wrap, size, 4, 0), at(img, size, 0, 0));
  assert.deepEqual(at(wrap, size, 5, 0), at(img, size, 1, 0));
});

test("a 90° rotation turns the content clockwise about Keras' centre side/2 + 0.5 (one pixel off the pixel centre, as in Keras)", () => {
  const size = 9;
  const img = gradient(size);
  const out = applyTransform(img, size, t({ theta: 90 }), 'constant', 0, 'nearest');
  // o = 9/2 + 0.5 = 5 (the pixel centre is 4): output (r, c) samples input row 2o − c = 10 − c, column r.
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      assert.deepEqual(at(out, size, c, r), 10 - c < size ? at(img, size, r, 10 - c) : [0, 0, 0], `(${r},${c})`);
    }
  }
});

test('zoom > 1 zooms out (Keras semantics): the centre stays, content shrinks toward it; zx scales rows, zy columns', () => {
  const size = 21;
  const img = gradient(size);
  const out = applyTransform(img, size, t({ zx: 2, zy: 1 }), 'constant', 0, 'nearest');
  // o = 11: row r samples row 11 + 2(r − 11); columns untouched.
  assert.deepEqual(at(out, size, 11, 11), at(img, size, 11, 11));
  assert.deepEqual(at(out, size, 3, 12), at(img, size, 3, 13));
  assert.deepEqual(at(out, size, 3, 0), [0, 0, 0], 'the top row samples outside → cval');
});

// Its speed is a figure, not a test: `npm run bench:decode` prints ms per 299×299 bilinear warp.
test("bilinear warps of a real photo at 299×299 are the same bytes for the same seed and keep the photo's brightness", async () => {
  const size = 299;
  const img = await decodeImage(photo('cat', 2), { size });
  const cfg = validateAugmentConfig({
    rotation_range: 20,
    shear_range: 0.2,
    zoom_range: 0.2,
    width_shift_range: 0.1,
    height_shift_range: 0.1,
    horizontal_flip: true,
    interpolation: 'bilinear',
  });
  const warp = (seed: number) =>
    applyTransform(img, size, sampleTransform(cfg, createRng(seed)), 'reflect', 0, 'bilinear');
  const out = warp(1);
  assert.equal(out.length, img.length);
  assert.deepEqual(warp(1), out, 'same seed, same bytes');
  assert.notDeepEqual(out, img, 'the warp moved pixels');
  assert.notDeepEqual(warp(2), out, 'another seed, another warp');
  // Reflect fill resamples the photo itself everywhere: no constant border drags the mean down.
  const mean = (px: Uint8Array) => px.reduce((sum, v) => sum + v, 0) / px.length;
  assert.ok(
    Math.abs(mean(out) - mean(img)) < 0.1 * mean(img),
    `mean ${mean(out).toFixed(1)} vs the photo's ${mean(img).toFixed(1)}`,
  );
});

test('validateAugmentConfig fills defaults and expands a scalar zoom_range', () => {
  const cfg = validateAugmentConfig({ shear_range: 0.2, zoom_range: 0.2, horizontal_flip: true, copies: 2, seed: 5 });
  assert.deepEqual(cfg.zoom_range, [0.8, 1.2]);
  assert.equal(cfg.fill_mode, 'nearest');
  assert.equal(cfg.interpolation, 'nearest', "Keras 2.0's order=0");
  assert.equal(cfg.shear_range, 0.2, 'radians, kept as given');
  assert.equal(cfg.rotation_range, 0);
  assert.equal(cfg.copies, 2);
  assert.deepEqual(validateAugmentConfig({ zoom_range: [0.9, 1.3] }).zoom_range, [0.9, 1.3]);
  assert.equal(isIdentityConfig(validateAugmentConfig(undefined)), true);
  assert.equal(isIdentityConfig(cfg), false);
  const degrees = validateAugmentConfig({ shear_degrees: 45 });
  assert.ok(Math.abs(degrees.shear_range - Math.PI / 4) < 1e-12, 'shear_degrees resolves to radians');
  assert.equal('shear_degrees' in degrees, false, 'the resolved config holds one unit');
  assert.deepEqual(
    validateAugmentConfig(JSON.parse(JSON.stringify(degrees))),
    degrees,
    'the resolved config validates to itself',
  );
});

test('out-of-range values are rejected with the key, the allowed range and the value', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ zoom_range: 1.5 }, /augment\.zoom_range must be in \[0, 1\).*got 1\.5/],
    [{ zoom_range: [1.2, 0.8] }, /augment\.zoom_range as a pair must satisfy 0 < lo ≤ hi ≤ 10, got \[1\.2, 0\.8\]/],
    [{ rotation_range: -5 }, /augment\.rotation_range must be a number in \[0, 180\], got -5/],
    [{ width_shift_range: 1 }, /augment\.width_shift_range must be a number in \[0, 1\), got 1/],
    [{ height_shift_range: 'wide' }, /augment\.height_shift_range must be a number in \[0, 1\), got "wide"/],
    [
      { shear_range: 11.5 },
      /augment\.shear_range is in radians as in Keras 2\.0 and must be in \[0, π\/2\), got 11\.5 \(for 11\.5° write shear_degrees: 11\.5\)/,
    ],
    [{ shear_range: -0.1 }, /augment\.shear_range is in radians .*got -0\.1$/],
    [{ shear_degrees: 90 }, /augment\.shear_degrees must be in \[0, 90\), got 90/],
    [
      { shear_degrees: 10, shear_range: 0.2 },
      /augment\.shear_degrees and augment\.shear_range both give the shear angle; keep one/,
    ],
    [{ horizontal_flip: 'yes' }, /augment\.horizontal_flip must be true or false, got "yes"/],
    [{ fill_mode: 'edge' }, /augment\.fill_mode must be one of nearest, constant, reflect, wrap, got "edge"/],
    [{ copies: 1.5 }, /augment\.copies must be an integer in \[0, 100\], got 1\.5/],
    [{ cval: 300 }, /augment\.cval must be a number in \[0, 255\], got 300/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(
      () => validateAugmentConfig(raw),
      (e: unknown) => e instanceof AugmentConfigError && message.test(e.message),
      JSON.stringify(raw),
    );
  }
  assert.throws(() => validateAugmentConfig([1, 2]), /augment must be a mapping/);
});

test('unknown keys are rejected with a did-you-mean; unsupported Keras options are named as such; all problems are listed', () => {
  assert.throws(
    () => validateAugmentConfig({ zoom_rnage: 0.2 }),
    /augment\.zoom_rnage is not a known key \(did you mean zoom_range\?\)/,
  );
  assert.throws(() => validateAugmentConfig({ horizontalFlip: true }), /did you mean horizontal_flip\?/);
  assert.throws(
    () => validateAugmentConfig({ channel_shift_range: 10 }),
    /channel_shift_range is a Keras ImageDataGenerator option this pipeline does not implement/,
  );
  assert.throws(
    () => validateAugmentConfig({ colour: 1, zoom_range: 3 }),
    (e: unknown) =>
      e instanceof AugmentConfigError && e.problems.length === 2 && /colour is not a known key;/.test(e.message),
  );
});

test('sampleTransform is seeded, stays in range and only flips when enabled', () => {
  const cfg = validateAugmentConfig({
    rotation_range: 10,
    width_shift_range: 0.1,
    shear_range: 0.3,
    zoom_range: [0.9, 1.1],
    horizontal_flip: true,
  });
  const a = Array.from(
    { length: 50 },
    (
      (rng) => () =>
        sampleTransform(cfg, rng)
    )(createRng(3)),
  );
  const b = Array.from(
    { length: 50 },
    (
      (rng) => () =>
        sampleTransform(cfg, rng)
    )(createRng(3)),
  );
  assert.deepEqual(a, b);
  for (const tr of a) {
    // width_shift_range moves columns: Keras' ty; tx (rows) stays 0.
    assert.ok(Math.abs(tr.theta) <= 10 && tr.tx === 0 && Math.abs(tr.ty) <= 0.1 && Math.abs(tr.shear) <= 0.3);
    assert.ok(tr.zx >= 0.9 && tr.zx <= 1.1 && tr.zy >= 0.9 && tr.zy <= 1.1);
    assert.equal(tr.flipVertical, false);
  }
  const flips = a.filter((tr) => tr.flipHorizontal).length;
  assert.ok(flips > 10 && flips < 40, `${flips}/50 flipped`);
});
