import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDistribution, formatProbability, sortIds } from '../../../stages/predict.ts';
import { createRng } from '../../../stages/lib/data/random.ts';
import { binaryProbabilities, isMistake, selectForCam } from '../../../stages/visualize.ts';

test('submission ids sort numerically, not as text', () => {
  const ids = ['10', '2', '1', '100', '11', 'b', 'a2', 'a10'];
  assert.deepEqual(sortIds(ids), ['1', '2', '10', '11', '100', 'a2', 'a10', 'b']);
});

test('probabilities are written with six decimals', () => {
  assert.equal(formatProbability(0.5), '0.500000');
  assert.equal(formatProbability(0.9951234), '0.995123');
});

test('CAM selection: the actual mistakes first (val, then test), then the hardest correct, titled apart', () => {
  const c = (set: 'val' | 'test', path: string, label: 0 | 1, p: number) => ({
    set,
    path,
    label,
    p: binaryProbabilities(p),
  });
  const items = [
    c('val', 'cat.1', 0, 0.9), // val mistake: cat called dog
    c('val', 'cat.2', 0, 0.1),
    c('val', 'cat.3', 0, 0.45), // unsure but correct
    c('val', 'dog.2', 1, 0.99),
    c('val', 'dog.3', 1, 0.6), // unsure but correct
    c('test', '7', 1, 0.2), // test mistake: dog called cat
    c('test', '8', 0, 0.97), // test mistake, more confident
    c('test', '9', 1, 0.52), // the least sure correct one
  ];
  const s = selectForCam(items, 2);
  assert.deepEqual(
    s.mistakes.map((m) => m.path),
    ['cat.1', '8', '7'],
    'val mistakes, then test mistakes, most confident first',
  );
  assert.equal(s.mistakesNotDrawn, 0);
  assert.deepEqual(
    s.hardestCorrect.map((m) => m.path),
    ['9'],
    'filled up to 2 × perClass = 4 drawings, nothing but correct ones',
  );
  assert.ok(s.hardestCorrect.every((m) => !isMistake(m)));

  // No mistakes: the hardest correct of both classes fill the 4 places.
  const clean = selectForCam(
    items.filter((m) => !isMistake(m)),
    2,
  );
  assert.deepEqual(clean.mistakes, []);
  assert.deepEqual(
    clean.hardestCorrect.map((m) => m.path),
    ['9', 'cat.3', 'dog.3', 'cat.2'],
  );

  // Many mistakes: at most perClass per set and true class are drawn; the rest are counted.
  const many = Array.from({ length: 5 }, (_, k) => c('test', `cat.${k}`, 0, 0.9 + k / 100));
  const capped = selectForCam(many, 2);
  assert.deepEqual(
    capped.mistakes.map((m) => m.path),
    ['cat.4', 'cat.3'],
  );
  assert.equal(capped.mistakesNotDrawn, 3);
  assert.deepEqual(capped.hardestCorrect, []);
});

test('N classes: a row of probabilities is written with six decimals adding up to exactly 1', () => {
  const micro = (row: string[]) => row.map((v) => Math.round(Number(v) * 1e6)).reduce((a, b) => a + b, 0);
  assert.deepEqual(
    formatDistribution([1 / 3, 1 / 3, 1 / 3]),
    ['0.333334', '0.333333', '0.333333'],
    'the leftover millionth to the first of equal remainders',
  );
  assert.deepEqual(formatDistribution([0.5, 0.25, 0.25]), ['0.500000', '0.250000', '0.250000']);
  assert.deepEqual(formatDistribution([1, 0, 0]), ['1.000000', '0.000000', '0.000000']);
  const rng = createRng(11);
  for (let n = 0; n < 500; n++) {
    const raw = Array.from({ length: 2 + (n % 9) }, () => rng() ** 3);
    const sum = raw.reduce((a, b) => a + b, 0);
    const row = raw.map((v) => v / sum);
    const written = formatDistribution(row);
    assert.equal(micro(written), 1_000_000, `${written}`);
    written.forEach((v, k) => assert.ok(Math.abs(Number(v) - row[k]) < 1e-6, `${v} vs ${row[k]}`));
  }
});

test("N classes: CAM selection spreads a true class's mistakes over the classes they were taken for", () => {
  const c = (path: string, label: number, p: number[]) => ({ set: 'val' as const, path, label, p });
  const items = [
    c('a', 0, [0.1, 0.8, 0.1]), // cat taken for dog, very sure
    c('b', 0, [0.2, 0.7, 0.1]), // cat taken for dog
    c('d', 0, [0.3, 0.1, 0.6]), // cat taken for upside
    c('e', 1, [0.1, 0.85, 0.05]),
    c('f', 2, [0.2, 0.2, 0.6]),
    c('g', 2, [0.3, 0.3, 0.4]), // the least sure correct one
  ];
  const s = selectForCam(items, 2, 3);
  assert.deepEqual(
    s.mistakes.map((m) => m.path),
    ['a', 'd'],
    'one cat → dog and one cat → upside, not the two cat → dog',
  );
  assert.equal(s.mistakesNotDrawn, 1);
  assert.deepEqual(
    s.hardestCorrect.map((m) => m.path),
    ['g', 'f', 'e'],
    '3 × 2 − 2 = 4 places, all the correct ones there are',
  );
});
