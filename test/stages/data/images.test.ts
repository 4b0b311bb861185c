import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import {
  decodeImage,
  ImageError,
  imageBatches,
  toTensorInput,
  type ImageErrorReason,
} from '../../../stages/lib/data/images.ts';
import { BAD_DIR, FIXTURES, photo, tempDir } from './helpers.ts';

const SIZE = 32;
const px = (img: Uint8Array, size: number, x: number, y: number) =>
  Array.from(img.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));

/** What each file of ../shared/datasets/bad-images must give: decoded, or skipped with this reason. */
const BAD_IMAGES: Record<string, 'decodes' | ImageErrorReason> = {
  'cat.9001.jpg': 'empty',
  'cat.9002.jpg': 'truncated',
  'dog.9003.jpg': 'decodes', // PNG named .jpg
  'cat.9004.jpg': 'decodes', // CMYK
  'dog.9005.jpg': 'decodes', // grayscale
  'cat.9006.jpg': 'decodes', // 1×1
  'dog.9007.jpg': 'not-an-image', // text
  'dog.9008.jpg': 'decodes',
  'cat.9009.jpg': 'decodes', // 144 MP
  'dog.9010.jpg': 'decodes', // GIF
};

test('every bad-images file either decodes to size×size×3 or fails with the expected reason, naming the file', async () => {
  for (const [name, expected] of Object.entries(BAD_IMAGES)) {
    const file = path.join(BAD_DIR, name);
    if (expected === 'decodes') {
      const img = await decodeImage(file, { size: SIZE });
      assert.equal(img.length, SIZE * SIZE * 3, name);
    } else {
      await assert.rejects(decodeImage(file, { size: SIZE }), (e: unknown) => {
        assert.ok(e instanceof ImageError, `${name}: ${String(e)}`);
        assert.equal(e.reason, expected, `${name}: ${e.message}`);
        assert.equal(e.file, file);
        assert.ok(e.message.includes(name));
        return true;
      });
    }
  }
});

test('imageBatches skips and counts the bad files, keeps order, and never throws', async () => {
  const items = Object.keys(BAD_IMAGES).map((name) => ({ path: path.join(BAD_DIR, name), name }));
  const seen: string[] = [];
  const skipped: [string, string][] = [];
  const sizes: number[] = [];
  for await (const batch of imageBatches(items, { size: 24, batchSize: 4, concurrency: 2 })) {
    assert.equal(batch.items.length, batch.pixels.length);
    sizes.push(batch.items.length + batch.skipped.length);
    for (const [k, item] of batch.items.entries()) {
      seen.push(item.name);
      assert.equal(batch.pixels[k].length, 24 * 24 * 3);
    }
    for (const s of batch.skipped) {
      skipped.push([s.item.name, s.reason]);
      assert.ok(s.message.includes(s.item.name));
    }
  }
  assert.deepEqual(sizes, [4, 4, 2]);
  await assert.rejects(
    imageBatches(items, { size: 0, batchSize: 4 }).next(),
    /image size must be a positive integer, got 0/,
  );
  await assert.rejects(imageBatches(items, { size: 8, batchSize: 0 }).next(), /batchSize must be a positive integer/);
  assert.deepEqual(
    seen,
    Object.keys(BAD_IMAGES).filter((n) => BAD_IMAGES[n] === 'decodes'),
  );
  assert.deepEqual(
    skipped,
    Object.entries(BAD_IMAGES).filter(([, r]) => r !== 'decodes'),
  );
});

test('CMYK, grayscale, PNG-as-jpg and GIF come out as plausible RGB', async () => {
  const gray = await decodeImage(path.join(BAD_DIR, 'dog.9005.jpg'), { size: SIZE });
  for (let i = 0; i < gray.length; i += 3)
    assert.ok(gray[i] === gray[i + 1] && gray[i] === gray[i + 2], 'grayscale → R = G = B');
  // dog.9003 (PNG) is the colour version of the same photo: the same picture, so luminance is close.
  const colour = await decodeImage(path.join(BAD_DIR, 'dog.9003.jpg'), { size: SIZE });
  let diff = 0;
  for (let i = 0; i < gray.length; i += 3)
    diff += Math.abs(gray[i] - (0.299 * colour[i] + 0.587 * colour[i + 1] + 0.114 * colour[i + 2]));
  assert.ok(diff / (SIZE * SIZE) < 12, `mean luminance difference ${diff / (SIZE * SIZE)}`);
  for (const name of ['cat.9004.jpg', 'dog.9010.jpg']) {
    const img = await decodeImage(path.join(BAD_DIR, name), { size: SIZE });
    const mean = img.reduce((s, v) => s + v, 0) / img.length;
    assert.ok(mean > 30 && mean < 225, `${name}: mean ${mean} (not blank)`);
  }
  const tiny = await decodeImage(path.join(BAD_DIR, 'cat.9006.jpg'), { size: 8 });
  assert.deepEqual(px(tiny, 8, 0, 0), px(tiny, 8, 7, 7), 'a 1×1 image resizes to a flat square');
});

test('EXIF orientation is applied (fixture: stored 40×20 red|blue, orientation 6 → upright 20×40 red over blue)', async () => {
  const meta = await sharp(path.join(FIXTURES, 'exif-orientation-6.jpg')).metadata();
  assert.equal(meta.orientation, 6);
  const img = await decodeImage(path.join(FIXTURES, 'exif-orientation-6.jpg'), { size: 20 });
  const isRed = (p: number[]) => p[0] > 200 && p[2] < 60;
  const isBlue = (p: number[]) => p[2] > 200 && p[0] < 60;
  assert.ok(isRed(px(img, 20, 2, 3)) && isRed(px(img, 20, 17, 3)), 'top row red across');
  assert.ok(isBlue(px(img, 20, 2, 16)) && isBlue(px(img, 20, 17, 16)), 'bottom row blue across');
});

test('dog.9008.jpg carries no EXIF orientation (so it decodes as stored, like its grayscale twin dog.9005)', async () => {
  const meta = await sharp(path.join(BAD_DIR, 'dog.9008.jpg')).metadata();
  assert.equal(meta.orientation, undefined);
  assert.deepEqual([meta.width, meta.height], [269, 292]);
});

test('the 144 MP JPEG decodes with bounded memory, and a pixel limit refuses it as too-large', async () => {
  const file = path.join(BAD_DIR, 'cat.9009.jpg');
  const before = process.memoryUsage().rss;
  await decodeImage(file, { size: 299 });
  const grown = (process.memoryUsage().rss - before) / 2 ** 20;
  assert.ok(grown < 300, `RSS grew ${grown.toFixed(0)} MiB (a full decode would need 412 MiB)`);
  await assert.rejects(
    decodeImage(file, { size: 64, maxInputPixels: 50_000_000 }),
    (e: unknown) => e instanceof ImageError && e.reason === 'too-large',
  );
});

test("resize 'squash' keeps everything, 'crop' keeps the centre", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // 60×20: red | green | blue bands.
    const raw = Buffer.alloc(60 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 60; x++) raw[(y * 60 + x) * 3 + Math.floor(x / 20)] = 255;
    const file = path.join(dir, 'bands.png');
    await sharp(raw, { raw: { width: 60, height: 20, channels: 3 } })
      .png()
      .toFile(file);
    const squash = await decodeImage(file, { size: 30, resize: 'squash' });
    assert.deepEqual(px(squash, 30, 2, 15), [255, 0, 0]);
    assert.deepEqual(px(squash, 30, 15, 15), [0, 255, 0]);
    assert.deepEqual(px(squash, 30, 27, 15), [0, 0, 255]);
    const crop = await decodeImage(file, { size: 30, resize: 'crop' });
    assert.deepEqual(px(crop, 30, 1, 15), [0, 255, 0]);
    assert.deepEqual(px(crop, 30, 28, 15), [0, 255, 0]);
    await assert.rejects(
      decodeImage(path.join(dir, 'missing.jpg'), { size: 8 }),
      (e: unknown) => e instanceof ImageError && e.reason === 'unreadable',
    );
    await assert.rejects(
      decodeImage(dir, { size: 8 }),
      (e: unknown) => e instanceof ImageError && e.reason === 'unreadable',
    );
  } finally {
    await cleanup();
  }
});

test('a real photo decodes and alpha is flattened onto white', async () => {
  const img = await decodeImage(photo('cat', 10), { size: 64 });
  assert.equal(img.length, 64 * 64 * 3);
  const { dir, cleanup } = await tempDir();
  try {
    const file = path.join(dir, 'clear.png');
    await sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toFile(file);
    assert.deepEqual(px(await decodeImage(file, { size: 4 }), 4, 1, 1), [255, 255, 255]);
  } finally {
    await cleanup();
  }
});

test('toTensorInput packs NHWC float32 with tf, unit and caffe preprocessing', () => {
  const a = new Uint8Array([0, 127.5, 255, 10, 20, 30].map(Math.floor));
  const b = new Uint8Array([255, 255, 255, 0, 0, 0]);
  // Two 1×1 images.
  const one = [a.subarray(0, 3), b.subarray(0, 3)];
  const tf = toTensorInput(one, 1, 'tf');
  assert.equal(tf.length, 6);
  assert.ok(Math.abs(tf[0] + 1) < 1e-6 && Math.abs(tf[2] - 1) < 1e-6 && Math.abs(tf[3] - 1) < 1e-6);
  const unit = toTensorInput(one, 1, 'unit');
  assert.ok(Math.abs(unit[1] - 127 / 255) < 1e-6 && unit[3] === 1);
  const caffe = toTensorInput([new Uint8Array([10, 20, 30])], 1, 'caffe');
  assert.deepEqual(
    Array.from(caffe).map((v) => Number(v.toFixed(3))),
    [30 - 103.939, 20 - 116.779, 10 - 123.68].map((v) => Number(v.toFixed(3))),
  );
  const reuse = new Float32Array(12);
  assert.equal(toTensorInput(one, 1, 'tf', reuse).buffer, reuse.buffer);
  assert.throws(() => toTensorInput([new Uint8Array(5)], 1), /expected 1×1×3/);
});

test('failures decoded side by side keep their own reasons (libvips shares one error buffer per process)', async () => {
  const failing = ['cat.9002.jpg', 'dog.9007.jpg', 'cat.9001.jpg'];
  const items = Array.from({ length: 120 }, (_, k) => {
    const name = failing[k % failing.length];
    return { path: path.join(BAD_DIR, name), name };
  });
  for await (const batch of imageBatches(items, { size: 24, batchSize: 12, concurrency: 6 })) {
    assert.equal(batch.items.length, 0);
    for (const s of batch.skipped) assert.equal(s.reason, BAD_IMAGES[s.item.name], s.message);
  }
});
