/**
 * Your own classes, through the real CLI on small subsets of the shared photos
 * (built in a temp folder, never copied into the repo) with the smallest
 * backbone: class folders with other names (katze/, hund/) giving the
 * two-class `id,label` submission; a three-class folder dataset (cats, dogs
 * and a third class of other photos turned upside down: a fixture for the
 * mechanics, not a claim about real-world accuracy) giving softmax
 * probabilities that add up to 1, 3×3 metrics and CAMs; and the errors a
 * user's data can raise, each stopped at `split`, before any training.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { BACKBONE, cli, jobProject, photos, SHARED, TEST_SRC, TRAIN_SRC } from './job-fixture.ts';

const LABELS_SRC = path.join(SHARED, 'datasets/dogs-vs-cats/test_labels.csv');
const available = existsSync(TRAIN_SRC) && existsSync(TEST_SRC) && existsSync(BACKBONE);
const skip = !available && 'shared data not present';

let root = '';

/** Test ids with their Kaggle label (1 = dog): the first `n` of each kind. */
function testIds(n: number): { id: string; dog: boolean }[] {
  const rows = readFileSync(LABELS_SRC, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  const cats = rows.filter((r) => r[1] === '0').slice(0, n);
  const dogs = rows.filter((r) => r[1] === '1').slice(0, n);
  return [...cats, ...dogs].map((r) => ({ id: r[0], dog: r[1] === '1' }));
}

function link(files: string[], folder: string): void {
  mkdirSync(folder, { recursive: true });
  for (const f of files) symlinkSync(f, path.join(folder, path.basename(f)));
}

/** A project folder of the job (the repo's stages linked in) with these data params. */
function project(name: string, data: Record<string, unknown>): string {
  return jobProject(path.join(root, name), {
    data: {
      train_dir: 'data/train',
      test_dir: 'data/test',
      test_labels: 'data/test_labels.csv',
      classes: null,
      val_fraction: 0.25,
      seed: 1,
      ...data,
    },
    augment: { copies: 0, seed: 1 },
    model: { backbone: BACKBONE, cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
    runtime: { threads: 0, batch_size: 8 },
    train: { lr: 0.003, epochs: 3, batch_size: 16, patience: 0, seed: 1 },
    predict: { clip: 0.005, tta_flip: true },
    visualize: { per_class: 2, cols: 4 },
  });
}

const read = (dir: string, rel: string) => readFileSync(path.join(dir, 'artifacts', rel), 'utf8');
const json = (dir: string, rel: string) => JSON.parse(read(dir, rel)) as Record<string, any>;
const csv = (dir: string, rel: string) =>
  read(dir, rel)
    .trim()
    .split('\n')
    .map((l) => l.split(','));

/** Upside-down copies of photos, written as JPEGs named `<prefix><k>.jpg`. */
async function upsideDown(files: string[], folder: string, name: (k: number) => string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  for (const [k, f] of files.entries())
    await sharp(f)
      .rotate(180)
      .resize(224, 224, { fit: 'cover' })
      .jpeg({ quality: 90 })
      .toFile(path.join(folder, `${name(k)}.jpg`));
}

before(() => {
  if (available) root = mkdtempSync(path.join(tmpdir(), 'pipeline-classes-'));
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test(
  'class folders with any names: katze/ and hund/ train and predict with an id,label submission (label = P(katze))',
  { skip },
  () => {
    const dir = project('katze-hund', {});
    link(photos('cat', 0, 8), path.join(dir, 'data/train/katze'));
    link(photos('dog', 0, 8), path.join(dir, 'data/train/hund'));
    const ids = testIds(4);
    link(
      ids.map((t) => path.join(TEST_SRC, `${t.id}.jpg`)),
      path.join(dir, 'data/test'),
    );
    // Labels by name, as a user with these folders would write them.
    writeFileSync(
      path.join(dir, 'data/test_labels.csv'),
      ['id,label', ...ids.map((t) => `${t.id},${t.dog ? 'hund' : 'katze'}`)].join('\n') + '\n',
    );

    const run = cli(dir, 'run');
    assert.equal(run.code, 0, run.output);
    // Sorted as Keras sorts the folders: hund = 0, katze = 1.
    assert.deepEqual(json(dir, 'classes/classes.json').classes, ['hund', 'katze']);
    const summary = json(dir, 'split/summary.json');
    assert.deepEqual(summary.all, { total: 16, per_class: { hund: 8, katze: 8 } });
    assert.equal(summary.imbalance, 1);
    assert.deepEqual(json(dir, 'train/head.json').classes, ['hund', 'katze']);

    const submission = csv(dir, 'predict/submission.csv');
    assert.deepEqual(submission[0], ['id', 'label']);
    assert.equal(submission.length - 1, 8);
    for (const [, p] of submission.slice(1)) assert.ok(Number(p) >= 0.005 && Number(p) <= 0.995, `unclipped ${p}`);
    const metrics = json(dir, 'predict/metrics.json');
    assert.deepEqual(metrics.confusion.labels, ['hund', 'katze']);
    assert.deepEqual(metrics.counts.per_class, { hund: 4, katze: 4 });
    assert.equal(
      (metrics.confusion.matrix as number[][]).flat().reduce((a, b) => a + b, 0),
      8,
    );
    // label = P(katze): the positive class is the second; a dog photo scored as katze is a false positive.
    const predictions = csv(dir, 'predict/predictions.csv');
    assert.equal(predictions[0][1], 'p_katze');
    const wrongDogs = ids.filter((t) => t.dog && Number(submission.find((r) => r[0] === t.id)![1]) > 0.5).length;
    assert.equal(metrics.confusion.fp, wrongDogs);
    assert.equal(csv(dir, 'visualize/selection.csv')[0][3], 'p_katze');
    const html = read(dir, 'visualize/index.html');
    assert.match(html, /<h2>Classes<\/h2>/);
    assert.match(html, /Dense\(1, sigmoid\) giving P\(katze\)/);

    // split checks the test labels but keeps them out of its outs: relabelling reruns split and predict, never training.
    const [first] = ids;
    writeFileSync(
      path.join(dir, 'data/test_labels.csv'),
      ['id,label', ...ids.map((t) => `${t.id},${t.dog === (t === first) ? 'katze' : 'hund'}`)].join('\n') + '\n',
    );
    const again = cli(dir, 'run', '--json');
    assert.equal(again.code, 0, again.output);
    const actions = new Map(
      (JSON.parse(again.stdout) as { stage: string; action: string }[]).map((a) => [a.stage, a.action]),
    );
    for (const stage of ['build-model', 'features', 'train'])
      assert.equal(actions.get(stage), 'skipped', `${stage} after a test-label edit`);
    for (const stage of ['split', 'predict'])
      assert.notEqual(actions.get(stage), 'skipped', `${stage} after a test-label edit`);
  },
);

test(
  'three classes from folders: softmax head, id,<classes> rows that add up to 1, 3×3 metrics, CAMs; test labels as names and indices',
  { skip },
  async () => {
    const dir = project('three', {});
    link(photos('cat', 0, 8), path.join(dir, 'data/train/cat'));
    link(photos('dog', 0, 8), path.join(dir, 'data/train/dog'));
    // The third class: other photos, upside down.
    await upsideDown(
      [...photos('cat', 20, 4), ...photos('dog', 20, 4)],
      path.join(dir, 'data/train/upside'),
      (k) => `u${k}`,
    );
    const ids = testIds(3);
    link(
      ids.map((t) => path.join(TEST_SRC, `${t.id}.jpg`)),
      path.join(dir, 'data/test'),
    );
    const upsideIds = ['90001', '90002', '90003'];
    await upsideDown(
      [...photos('cat', 30, 2), ...photos('dog', 30, 1)],
      path.join(dir, 'data/test'),
      (k) => upsideIds[k],
    );
    // Names for some rows, indices (0 = cat, 1 = dog, 2 = upside) for others.
    const rows = [
      ...ids.map((t, k) => `${t.id},${k % 2 ? (t.dog ? 'dog' : 'cat') : t.dog ? 1 : 0}`),
      `${upsideIds[0]},upside`,
      `${upsideIds[1]},2`,
      `${upsideIds[2]},Upside`,
    ];
    writeFileSync(path.join(dir, 'data/test_labels.csv'), ['id,label', ...rows].join('\n') + '\n');

    const run = cli(dir, 'run');
    assert.equal(run.code, 0, run.output);
    assert.deepEqual(json(dir, 'classes/classes.json').classes, ['cat', 'dog', 'upside']);
    const summary = json(dir, 'split/summary.json');
    assert.deepEqual(summary.all.per_class, { cat: 8, dog: 8, upside: 8 });
    assert.deepEqual(summary.val.per_class, { cat: 2, dog: 2, upside: 2 }, 'stratified: round(8 × 0.25) of each class');

    // The untrained and the trained model end in Dense(3, softmax).
    const dense = (rel: string) => {
      const topology = json(dir, rel).modelTopology;
      const layers = (topology.model_config ?? topology).config.layers as {
        class_name: string;
        config: { name: string; units?: number; activation?: string };
      }[];
      return layers.find((l) => l.config.name === 'head_dense')!.config;
    };
    for (const rel of ['build-model/model/model.json', 'train/model/model.json']) {
      assert.equal(dense(rel).units, 3, rel);
      assert.equal(dense(rel).activation, 'softmax', rel);
    }
    const head = json(dir, 'train/head.json');
    assert.equal(head.units, 3);
    assert.equal(head.bias.length, 3);
    assert.match(read(dir, 'train/history.csv'), /^epoch,loss,accuracy,val_loss,val_accuracy/);

    const submission = csv(dir, 'predict/submission.csv');
    assert.deepEqual(submission[0], ['id', 'cat', 'dog', 'upside']);
    assert.equal(submission.length - 1, 9);
    for (const [id, ...p] of submission.slice(1)) {
      for (const v of p) assert.match(v, /^[01]\.\d{6}$/, `row ${id}`);
      // Exactly 1 as written: count in millionths so no float rounding enters the check.
      assert.equal(
        p.map((v) => Math.round(Number(v) * 1e6)).reduce((a, b) => a + b, 0),
        1_000_000,
        `row ${id} adds up to ${p.join(' + ')}`,
      );
      for (const v of p) assert.ok(Number(v) >= 0.0049, `row ${id}: ${v} is not clipped at 0.005`);
    }
    const metrics = json(dir, 'predict/metrics.json');
    assert.deepEqual(metrics.confusion.labels, ['cat', 'dog', 'upside']);
    const matrix = metrics.confusion.matrix as number[][];
    assert.equal(matrix.length, 3);
    assert.ok(matrix.every((r) => r.length === 3));
    assert.deepEqual(
      matrix.map((r) => r.reduce((a, b) => a + b, 0)),
      [3, 3, 3],
      'every test label read, as name or index',
    );
    assert.deepEqual(metrics.counts.per_class, { cat: 3, dog: 3, upside: 3 });
    assert.equal(metrics.accuracy, Number(((matrix[0][0] + matrix[1][1] + matrix[2][2]) / 9).toFixed(6)));
    for (const c of ['cat', 'dog', 'upside'])
      assert.equal(
        metrics.per_class_accuracy[c],
        Number((matrix[['cat', 'dog', 'upside'].indexOf(c)][['cat', 'dog', 'upside'].indexOf(c)] / 3).toFixed(6)),
      );
    assert.ok(metrics.log_loss > 0 && Number.isFinite(metrics.log_loss));
    // The log loss is the mean −log of the true class's probability, as submitted (less the last decimal).
    const labelOf = new Map(
      rows
        .map((r) => r.split(','))
        .map(([id, l]) => [
          id,
          ['cat', 'dog', 'upside'].indexOf(l.toLowerCase()) >= 0
            ? ['cat', 'dog', 'upside'].indexOf(l.toLowerCase())
            : Number(l),
        ]),
    );
    const fromCsv = submission.slice(1).reduce((s, [id, ...p]) => s - Math.log(Number(p[labelOf.get(id)!])), 0) / 9;
    assert.ok(Math.abs(fromCsv - metrics.log_loss) < 1e-3, `${fromCsv} vs ${metrics.log_loss}`);

    const selection = csv(dir, 'visualize/selection.csv');
    assert.deepEqual(selection[0], ['set', 'path', 'label', 'p_cat', 'p_dog', 'p_upside', 'predicted', 'wrong', 'cam']);
    for (const r of selection.slice(1)) {
      const p = r.slice(3, 6).map(Number);
      const predicted = ['cat', 'dog', 'upside'][p.indexOf(Math.max(...p))];
      assert.equal(r[6], predicted, `predicted class of ${r[1]}`);
      assert.equal(r[7], predicted === r[2] ? '0' : '1', `wrong flag of ${r[1]}`);
    }
    const wrongFlags = selection.slice(1).map((r) => Number(r[7]));
    assert.deepEqual(
      wrongFlags,
      [...wrongFlags].sort((a, b) => b - a),
      'mistakes come first',
    );
    assert.ok(selection.length - 1 >= Math.min(6, 6 + 9), 'classes × per_class maps in all');
    assert.equal(
      readdirSync(path.join(dir, 'artifacts/visualize/cam')).filter((f) => f.endsWith('.png')).length,
      selection.length - 1,
    );
    const html = read(dir, 'visualize/index.html');
    assert.match(html, /Dense\(3, softmax\)/);
    assert.match(
      html,
      /<th>upside<\/th><td>8<\/td><td>6<\/td><td>2<\/td><td>3<\/td>/,
      'class counts: all, train, val, test',
    );
    assert.match(html, /<th>true \\ predicted<\/th><th>cat<\/th><th>dog<\/th><th>upside<\/th><th>accuracy<\/th>/);
  },
);

test('the Kaggle flat layout with a data.classes list that fixes the order: label k = the k-th class', { skip }, () => {
  const dir = project('flat-order', { classes: ['dog', 'cat'] });
  link([...photos('cat', 0, 3), ...photos('dog', 0, 3)], path.join(dir, 'data/train'));
  link([path.join(TEST_SRC, '1.jpg')], path.join(dir, 'data/test'));
  writeFileSync(path.join(dir, 'data/test_labels.csv'), 'id,label\n1,cat\n');
  const run = cli(dir, 'run', 'split');
  assert.equal(run.code, 0, run.output);
  assert.deepEqual(json(dir, 'classes/classes.json').classes, ['dog', 'cat']);
  const train = csv(dir, 'split/train.csv').slice(1);
  for (const [file, label] of train) assert.equal(label, path.basename(file).startsWith('dog.') ? '0' : '1', file);
});

test('bad class data fails at split, before any training, with an error naming the problem', { skip }, () => {
  const cases: { name: string; data?: Record<string, unknown>; build: (dir: string) => void; error: RegExp }[] = [
    {
      name: 'outside-list',
      data: { classes: ['katze', 'hund'] },
      build: (dir) => {
        link(photos('cat', 0, 3), path.join(dir, 'data/train/katze'));
        link(photos('dog', 0, 3), path.join(dir, 'data/train/hund'));
        link(photos('dog', 3, 3), path.join(dir, 'data/train/fuchs'));
      },
      error: /holds images of sub-folder fuchs\/, not in data\.classes \(katze, hund\)/,
    },
    {
      name: 'too-few',
      build: (dir) => {
        link(photos('cat', 0, 3), path.join(dir, 'data/train/katze'));
        link(photos('dog', 0, 1), path.join(dir, 'data/train/hund'));
      },
      error: /split needs at least 2 images of every class .*: "hund" \(1\)/,
    },
    {
      name: 'one-class',
      build: (dir) => link(photos('cat', 0, 3), path.join(dir, 'data/train/katze')),
      error: /holds images of one class only \(katze\)/,
    },
    {
      name: 'test-label-class',
      build: (dir) => {
        link(photos('cat', 0, 3), path.join(dir, 'data/train/katze'));
        link(photos('dog', 0, 3), path.join(dir, 'data/train/hund'));
        writeFileSync(path.join(dir, 'data/test_labels.csv'), 'id,label\n1,katze\n2,fuchs\n');
      },
      error:
        /test_labels\.csv: data row 2 \(id 2\): class "fuchs" is not a class of the training set; a label must be a class name \(hund, katze\) or its index 0–1/,
    },
    {
      name: 'test-label-index',
      build: (dir) => {
        link(photos('cat', 0, 3), path.join(dir, 'data/train/katze'));
        link(photos('dog', 0, 3), path.join(dir, 'data/train/hund'));
        writeFileSync(path.join(dir, 'data/test_labels.csv'), 'id,label\n1,0\n2,2\n');
      },
      error: /data row 2 \(id 2\): index 2 is out of range: the training set has 2 classes/,
    },
  ];
  for (const c of cases) {
    const dir = project(c.name, c.data ?? {});
    mkdirSync(path.join(dir, 'data/test'), { recursive: true });
    link([path.join(TEST_SRC, '1.jpg')], path.join(dir, 'data/test'));
    if (!existsSync(path.join(dir, 'data/test_labels.csv')))
      writeFileSync(path.join(dir, 'data/test_labels.csv'), 'id,label\n1,0\n');
    c.build(dir);
    const run = cli(dir, 'run');
    assert.notEqual(run.code, 0, `${c.name}: the run should fail`);
    assert.match(run.output, c.error, c.name);
    assert.ok(!existsSync(path.join(dir, 'artifacts/train')), `${c.name}: nothing trained`);
    assert.ok(!existsSync(path.join(dir, 'artifacts/classes/classes.json')), `${c.name}: split wrote no class list`);
  }
});
