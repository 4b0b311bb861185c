import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProbability, sortIds } from '../../../stages/predict.ts';
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
  const c = (set: 'val' | 'test', path: string, label: 0 | 1, p: number) => ({ set, path, label, p: binaryProbabilities(p) });
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
  assert.deepEqual(s.mistakes.map((m) => m.path), ['cat.1', '8', '7'], 'val mistakes, then test mistakes, most confident first');
  assert.equal(s.mistakesNotDrawn, 0);
  assert.deepEqual(s.hardestCorrect.map((m) => m.path), ['9'], 'filled up to 2 × perClass = 4 drawings, nothing but correct ones');
  assert.ok(s.hardestCorrect.every((m) => !isMistake(m)));

  // No mistakes: the hardest correct of both classes fill the 4 places.
  const clean = selectForCam(items.filter((m) => !isMistake(m)), 2);
  assert.deepEqual(clean.mistakes, []);
  assert.deepEqual(clean.hardestCorrect.map((m) => m.path), ['9', 'cat.3', 'dog.3', 'cat.2']);

  // Many mistakes: at most perClass per set and true class are drawn; the rest are counted.
  const many = Array.from({ length: 5 }, (_, k) => c('test', `cat.${k}`, 0, 0.9 + k / 100));
  const capped = selectForCam(many, 2);
  assert.deepEqual(capped.mistakes.map((m) => m.path), ['cat.4', 'cat.3']);
  assert.equal(capped.mistakesNotDrawn, 3);
  assert.deepEqual(capped.hardestCorrect, []);
});
