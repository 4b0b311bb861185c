import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import {
  jet,
  linePlotSvg,
  overlayHeatmap,
  writeGrid,
  writeLinePlot,
  writeLinePlots,
} from '../../../stages/lib/data/picture.ts';
import { tempDir } from './helpers.ts';

const flat = (size: number, rgb: [number, number, number]) => {
  const img = new Uint8Array(size * size * 3);
  for (let i = 0; i < img.length; i += 3) img.set(rgb, i);
  return img;
};

test('writeGrid lays tiles out in rows of `cols` with captions under them', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const out = path.join(dir, 'grid.png');
    const tiles = Array.from({ length: 7 }, (_, k) => ({
      pixels: flat(40, [k * 30, 0, 255 - k * 30]),
      size: 40,
      caption: `tile <${k}> & "x"`,
    }));
    await writeGrid(tiles, 3, out, { gap: 4 });
    const meta = await sharp(out).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 4 + 3 * 44);
    assert.ok(meta.height > 3 * 44, 'three rows plus caption bands');
    // Tile 0 sits at (gap, gap) with its own colour.
    const { data, info } = await sharp(out).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const o = (10 * info.width + 10) * 3;
    assert.deepEqual([data[o], data[o + 1], data[o + 2]], [0, 0, 255]);
    await assert.rejects(writeGrid([], 3, out), /no tiles/);
  } finally {
    await cleanup();
  }
});

test('line plots render to PNG, skip non-finite values, and refuse empty data', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const one = path.join(dir, 'loss.png');
    await writeLinePlot(
      [
        { name: 'loss', values: [0.7, 0.4, Number.NaN, 0.2] },
        { name: 'val_loss', values: [0.8, 0.5, 0.35, 0.3] },
      ],
      { title: 'Loss', xLabel: 'epoch', yLabel: 'loss' },
      one,
    );
    assert.deepEqual(
      Object.values((({ width, height }) => ({ width, height }))(await sharp(one).metadata())),
      [640, 420],
    );
    const two = path.join(dir, 'curves.png');
    await writeLinePlots(
      [
        { series: [{ name: 'loss', values: [1, 0.5] }], labels: { title: 'Loss', xLabel: 'epoch', yLabel: 'loss' } },
        {
          series: [{ name: 'accuracy', values: [0.5, 0.9] }],
          labels: { title: 'Accuracy', xLabel: 'epoch', yLabel: 'acc' },
        },
      ],
      two,
    );
    assert.equal((await sharp(two).metadata()).width, 1280);
    assert.throws(
      () => linePlotSvg([{ name: 'x', values: [Number.NaN] }], { title: 't', xLabel: 'x', yLabel: 'y' }),
      /no finite values/,
    );
    assert.match(
      linePlotSvg([{ name: 'a<b', values: [1] }], { title: 'T&', xLabel: 'x', yLabel: 'y' }),
      /a&lt;b.*T&amp;/s,
    );
  } finally {
    await cleanup();
  }
});

test('overlayHeatmap puts the hot colour where the map is hot and blends by alpha', () => {
  const size = 70;
  const base = flat(size, [100, 100, 100]);
  const heat = new Float32Array(49);
  heat[1 * 7 + 5] = 3; // row 1, column 5 of a 7×7 map
  const out = overlayHeatmap(base, size, heat, 7, 7, 0.5);
  const at = (x: number, y: number) => Array.from(out.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
  const hot = at(55, 15); // centre of cell (5, 1)
  const cold = at(5, 65);
  assert.ok(hot[0] > 150 && hot[2] < 100, `hot pixel is red-ish: ${hot}`);
  assert.ok(cold[2] > cold[0] + 40 && cold[0] < 100, `cold pixel is blue-ish: ${cold}`);
  assert.deepEqual(jet(0), [0, 0, 0.5]);
  assert.deepEqual(jet(0.5), [0.5, 1, 0.5]);
  assert.deepEqual(jet(1), [0.5, 0, 0]);
  assert.deepEqual(overlayHeatmap(base, size, heat, 7, 7, 0), base, 'alpha 0 leaves the image');
  assert.throws(() => overlayHeatmap(base, size, new Float32Array(5), 7, 7), /expected 7×7/);
});
