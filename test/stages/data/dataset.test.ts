import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DatasetError,
  listLabelledImages,
  listUnlabelledImages,
  readLabelledDataset,
  naturalCompare,
  readImageList,
  readLabels,
  writeImageList,
} from '../../../stages/lib/data/dataset.ts';
import { linkSubset, tempDir } from './helpers.ts';

test('Kaggle flat layout: labels from names (dog = 1), sorted by label then natural id, absolute paths', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await linkSubset(dir, 3, 4);
    await writeFile(path.join(dir, 'notes.txt'), 'not an image');
    await writeFile(path.join(dir, '.DS_Store'), '');
    const items = await listLabelledImages(dir);
    assert.deepEqual(
      items.map((i) => [i.id, i.label]),
      [
        ['cat.2', 0],
        ['cat.3', 0],
        ['cat.4', 0],
        ['dog.2', 1],
        ['dog.4', 1],
        ['dog.7', 1],
        ['dog.8', 1],
      ],
    );
    for (const i of items) assert.ok(path.isAbsolute(i.path) && i.path.startsWith(dir));
  } finally {
    await cleanup();
  }
});

test('class sub-folders of any name are the classes, sorted by name (cats/ dogs/, cat/ Dog/)', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await linkSubset(dir, 2, 3, 'folders');
    const items = await listLabelledImages(dir);
    assert.deepEqual(
      items.map((i) => [i.id, i.label]),
      [
        ['cats/2', 0],
        ['cats/3', 0],
        ['dogs/2', 1],
        ['dogs/4', 1],
        ['dogs/7', 1],
      ],
    );
    const other = path.join(dir, 'other');
    await mkdir(path.join(other, 'cat'), { recursive: true });
    await mkdir(path.join(other, 'Dog'), { recursive: true });
    await writeFile(path.join(other, 'cat', '10.png'), '');
    await writeFile(path.join(other, 'cat', '9.png'), '');
    await writeFile(path.join(other, 'Dog', 'a.jpeg'), '');
    const dataset = await readLabelledDataset(other);
    // Code-unit order, as Keras' sorted(os.listdir()): capitals first.
    assert.deepEqual(dataset.classes, ['Dog', 'cat']);
    assert.deepEqual(
      dataset.images.map((i) => [i.id, i.label]),
      [
        ['Dog/a', 0],
        ['cat/9', 1],
        ['cat/10', 1],
      ],
    );
  } finally {
    await cleanup();
  }
});

test('unknown layouts and empty folders are rejected with a message that says what was found', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await assert.rejects(
      listLabelledImages(dir),
      (e: unknown) => e instanceof DatasetError && /no image files/.test(e.message),
    );
    await writeFile(path.join(dir, '1.jpg'), '');
    await mkdir(path.join(dir, 'birds'));
    await assert.rejects(listLabelledImages(dir), /1 image file\(s\) with no class before a dot in their names/);
    await assert.rejects(listLabelledImages(dir), /one sub-folder of images per class, any names/);
    await assert.rejects(listLabelledImages(path.join(dir, 'missing')), /dataset folder not found/);
    await assert.rejects(listLabelledImages(path.join(dir, '1.jpg')), /not a folder/);
  } finally {
    await cleanup();
  }
});

test('unlabelled images are sorted by numeric id and duplicate ids are rejected', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    for (const n of ['10.jpg', '2.jpg', '1.jpg', '100.jpg', 'readme.md']) await writeFile(path.join(dir, n), '');
    const items = await listUnlabelledImages(dir);
    assert.deepEqual(
      items.map((i) => i.id),
      ['1', '2', '10', '100'],
    );
    await writeFile(path.join(dir, '2.png'), '');
    await assert.rejects(listUnlabelledImages(dir), /two images share the id "2"/);
  } finally {
    await cleanup();
  }
});

test('natural order compares digit runs as numbers and is total', () => {
  const ids = ['dog.10', 'cat.2', 'cat.10', 'cat.02', 'cat.1'];
  assert.deepEqual([...ids].sort(naturalCompare), ['cat.1', 'cat.2', 'cat.02', 'cat.10', 'dog.10']);
});

test('readLabels reads id,label and rejects bad labels naming the row', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const file = path.join(dir, 'labels.csv');
    await writeFile(file, 'id,label\n1,1\n2,0\n3,1.0\n');
    const kaggle = ['cat', 'dog'];
    const labels = await readLabels(file, kaggle);
    assert.deepEqual(
      [...labels],
      [
        ['1', 1],
        ['2', 0],
        ['3', 1],
      ],
    );
    await writeFile(file, 'id,label\n1,dog\n2,Cat\n3,0\n');
    assert.deepEqual(
      [...(await readLabels(file, kaggle))],
      [
        ['1', 1],
        ['2', 0],
        ['3', 0],
      ],
      'names (any case) and indices',
    );
    await writeFile(file, 'id,label\n1,1\n2,0.7\n');
    await assert.rejects(
      readLabels(file, kaggle),
      /data row 2 \(id 2\): "0.7" is neither a class name nor an index; a label must be a class name \(cat, dog\) or its index 0–1/,
    );
    await writeFile(file, 'id,label\n1,2\n');
    await assert.rejects(
      readLabels(file, kaggle),
      /data row 1 \(id 1\): index 2 is out of range: the training set has 2 classes/,
    );
    await writeFile(file, 'id,label\n1,fox\n');
    await assert.rejects(
      readLabels(file, kaggle),
      /data row 1 \(id 1\): class "fox" is not a class of the training set/,
    );
    await writeFile(file, 'id,label\n1,1\n1,0\n');
    await assert.rejects(readLabels(file, kaggle), /id 1 appears twice/);
    // Classes named by numbers: a name wins over an index.
    await writeFile(file, 'id,label\n1,1\n2,0\n3,3\n');
    assert.deepEqual(
      [...(await readLabels(file, ['1', '2', '3']))],
      [
        ['1', 0],
        ['2', 0],
        ['3', 2],
      ],
    );
  } finally {
    await cleanup();
  }
});

test('image lists store paths relative to the project root and read back absolute', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const root = path.join(dir, 'project');
    const data = path.join(dir, 'shared', 'train');
    await linkSubset(data, 2, 1);
    await linkSubset(path.join(dir, 'sub'), 1, 1, 'folders');
    const items = [...(await listLabelledImages(data)), ...(await listLabelledImages(path.join(dir, 'sub')))];
    await mkdir(root);
    const list = path.join(root, 'train.csv');
    await writeImageList(list, root, items);
    const text = await readFile(list, 'utf8');
    assert.ok(text.startsWith('path,label\n../shared/train/cat.2.jpg,0\n'), text);
    assert.ok(!text.includes(dir), 'no absolute paths in the list');
    const back = await readImageList(list, root, ['cat', 'dog']);
    assert.deepEqual(back.slice(0, 3), items.slice(0, 3));
    assert.deepEqual(
      back.slice(3).map((i) => [i.path, i.label]),
      items.slice(3).map((i) => [i.path, i.label]),
    );
    // Ids of folder images come back as folder/stem when the folder is the class's name.
    await writeImageList(list, root, items.slice(3));
    assert.deepEqual(await readImageList(list, root, ['cats', 'dogs']), items.slice(3));
    await writeFile(list, 'path,label\nx.jpg,2\n');
    await assert.rejects(
      readImageList(list, root, ['cats', 'dogs']),
      /data row 1: label must be a class index 0–1, got "2"/,
    );
  } finally {
    await cleanup();
  }
});
