import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import augmentConfigStage, { PREVIEW_COLS, PREVIEW_ROWS, PREVIEW_SIZE } from '../../../stages/augment-config.ts';
import splitStage, { stratifiedSplit, validationCount } from '../../../stages/split.ts';
import { readImageList, type LabelledImage } from '../../../stages/lib/data/dataset.ts';
import { linkSubset, makeContext, tempDir } from './helpers.ts';

const splitParams = (over: Record<string, unknown> = {}) => ({
  'data.train_dir': 'data/train',
  'data.classes': null,
  'data.val_fraction': 0.2,
  'data.seed': 42,
  'data.test_labels': '',
  ...over,
});

async function runSplit(root: string, params: Record<string, unknown>, out: string) {
  const ctx = makeContext({ root, params, deps: [path.join(root, 'data/train')], outs: [out, `${out}-classes`] });
  await splitStage.run(ctx);
  const classes = JSON.parse(await readFile(path.join(`${out}-classes`, 'classes.json'), 'utf8')).classes as string[];
  return {
    ctx,
    classes,
    train: await readImageList(path.join(out, 'train.csv'), root, classes),
    val: await readImageList(path.join(out, 'val.csv'), root, classes),
  };
}

test('split stage: stratified, disjoint, every image exactly once, deterministic per seed, relative paths', async () => {
  const { dir: root, cleanup } = await tempDir();
  try {
    await linkSubset(path.join(root, 'data/train'), 12, 8);
    const a = await runSplit(root, splitParams(), path.join(root, 'out-a'));
    // Per class round(n·0.2): 12 cats → 2 (2.4), 8 dogs → 2 (1.6).
    const count = (items: LabelledImage[], label: number) => items.filter((i) => i.label === label).length;
    assert.deepEqual([count(a.val, 0), count(a.val, 1), count(a.train, 0), count(a.train, 1)], [2, 2, 10, 6]);
    const ids = [...a.train, ...a.val].map((i) => i.id);
    assert.equal(new Set(ids).size, 20, 'disjoint and no duplicates');
    assert.equal(ids.length, 20, 'every image listed');
    const text = await readFile(path.join(root, 'out-a/train.csv'), 'utf8');
    assert.match(text, /^path,label\ndata\/train\/cat\.\d+\.jpg,0\n/);
    const summary = JSON.parse(await readFile(path.join(root, 'out-a/summary.json'), 'utf8'));
    assert.deepEqual(a.classes, ['cat', 'dog']);
    assert.deepEqual(summary.train, { total: 16, per_class: { cat: 10, dog: 6 } });
    assert.deepEqual(summary.val, { total: 4, per_class: { cat: 2, dog: 2 } });
    assert.equal(summary.imbalance, 1.5);
    assert.equal(summary.train_dir, 'data/train');
    assert.ok(a.ctx.logs.some((l) => /train 16 .* val 4/.test(l)));

    const again = await runSplit(root, splitParams(), path.join(root, 'out-b'));
    assert.equal(
      await readFile(path.join(root, 'out-b/val.csv'), 'utf8'),
      await readFile(path.join(root, 'out-a/val.csv'), 'utf8'),
    );
    assert.deepEqual(again.train, a.train);
    const other = await runSplit(root, splitParams({ 'data.seed': 7 }), path.join(root, 'out-c'));
    assert.notDeepEqual(
      other.val.map((i) => i.id),
      a.val.map((i) => i.id),
      'another seed, another split',
    );
  } finally {
    await cleanup();
  }
});

test('stratifiedSplit keeps class ratios on the full-size problem and one class does not perturb the other', () => {
  const make = (cats: number, dogs: number): LabelledImage[] => [
    ...Array.from({ length: cats }, (_, k) => ({ path: `/d/cat.${k}.jpg`, label: 0 as const, id: `cat.${k}` })),
    ...Array.from({ length: dogs }, (_, k) => ({ path: `/d/dog.${k}.jpg`, label: 1 as const, id: `dog.${k}` })),
  ];
  const { train, val } = stratifiedSplit(make(1131, 600), 0.1, 42);
  assert.equal(val.filter((i) => i.label === 0).length, 113);
  assert.equal(val.filter((i) => i.label === 1).length, 60);
  assert.equal(train.length + val.length, 1731);
  const moreDogs = stratifiedSplit(make(1131, 900), 0.1, 42);
  assert.deepEqual(
    moreDogs.val.filter((i) => i.label === 0).map((i) => i.id),
    val.filter((i) => i.label === 0).map((i) => i.id),
  );
  assert.equal(validationCount(2, 0.01), 1);
  assert.equal(validationCount(2, 0.99), 1);
  assert.equal(validationCount(1, 0.5), 0);
});

test('split stage rejects bad params and a single-class folder with clear errors', async () => {
  const { dir: root, cleanup } = await tempDir();
  try {
    await linkSubset(path.join(root, 'data/train'), 3, 0);
    const run = (params: Record<string, unknown>) =>
      splitStage.run(makeContext({ root, params, outs: [path.join(root, 'out'), path.join(root, 'out-classes')] }));
    await assert.rejects(
      run(splitParams({ 'data.val_fraction': 1 })),
      /data\.val_fraction must be a number in \(0, 1\), got 1/,
    );
    await assert.rejects(run(splitParams({ 'data.seed': -1 })), /data\.seed must be an integer/);
    await assert.rejects(run(splitParams({ 'data.train_dir': '' })), /data\.train_dir must be a folder path/);
    await assert.rejects(
      run(splitParams()),
      /holds images of one class only \(cat\): a classifier needs two or more classes/,
    );
    await assert.rejects(
      run(splitParams({ 'data.classes': ['cat', 'dog'] })),
      /split needs at least 2 images of every class .*: "dog" \(0\)/,
    );
    await assert.rejects(
      run(splitParams({ 'data.classes': ['dog', 'fox'] })),
      /holds images of file prefix "cat\.", not in data\.classes \(dog, fox\)/,
    );
    await assert.rejects(
      run(splitParams({ 'data.classes': ['cat'] })),
      /data\.classes must be a list of 2 or more distinct names, or empty, got/,
    );
    await assert.rejects(run(splitParams({ 'data.train_dir': 'nowhere' })), /dataset folder not found/);
  } finally {
    await cleanup();
  }
});

test('augment-config stage writes the resolved config and an 18-tile labelled preview; a bad config fails the stage', async () => {
  const { dir: root, cleanup } = await tempDir();
  try {
    await linkSubset(path.join(root, 'data/train'), 10, 10);
    const splitOut = path.join(root, 'artifacts/split');
    await runSplit(root, splitParams(), splitOut);
    const out = path.join(root, 'artifacts/augment-config');
    await mkdir(out, { recursive: true });
    const augment = { shear_range: 0.2, zoom_range: 0.2, horizontal_flip: true, copies: 1, seed: 3 };
    const ctx = makeContext({ root, params: { augment }, deps: [splitOut, `${splitOut}-classes`], outs: [out] });
    await augmentConfigStage.run(ctx);
    const cfg = JSON.parse(await readFile(path.join(out, 'augment.json'), 'utf8'));
    assert.deepEqual(cfg.zoom_range, [0.8, 1.2]);
    assert.equal(cfg.fill_mode, 'nearest');
    assert.equal(cfg.copies, 1);
    const meta = await sharp(path.join(out, 'preview.png')).metadata();
    assert.equal(meta.format, 'png');
    assert.ok(
      meta.width >= PREVIEW_COLS * PREVIEW_SIZE && meta.height >= PREVIEW_ROWS * PREVIEW_SIZE,
      `${meta.width}×${meta.height}`,
    );
    assert.equal(ctx.progressReports.at(-1)?.done, 18);
    // Same seed → the same preview, byte for byte.
    const out2 = path.join(root, 'again');
    await augmentConfigStage.run(
      makeContext({ root, params: { augment }, deps: [splitOut, `${splitOut}-classes`], outs: [out2] }),
    );
    assert.deepEqual(await readFile(path.join(out2, 'preview.png')), await readFile(path.join(out, 'preview.png')));

    await assert.rejects(
      augmentConfigStage.run(
        makeContext({
          root,
          params: { augment: { zoom_range: 1.5 } },
          deps: [splitOut, `${splitOut}-classes`],
          outs: [path.join(root, 'bad')],
        }),
      ),
      /augment\.zoom_range must be in \[0, 1\)/,
    );
  } finally {
    await cleanup();
  }
});
