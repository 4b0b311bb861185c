import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProbability, sortIds } from '../../../stages/predict.ts';
import { selectHardest } from '../../../stages/visualize.ts';

test('submission ids sort numerically, not as text', () => {
  const ids = ['10', '2', '1', '100', '11', 'b', 'a2', 'a10'];
  assert.deepEqual(sortIds(ids), ['1', '2', '10', '11', '100', 'a2', 'a10', 'b']);
});

test('probabilities are written with six decimals', () => {
  assert.equal(formatProbability(0.5), '0.500000');
  assert.equal(formatProbability(0.9951234), '0.995123');
});

test('CAM selection takes the most wrong of each class, most wrong first', () => {
  const items = [
    { path: 'cat.1', label: 0 as const, p: 0.9 }, // cat called dog
    { path: 'cat.2', label: 0 as const, p: 0.1 },
    { path: 'cat.3', label: 0 as const, p: 0.45 }, // unsure cat
    { path: 'dog.1', label: 1 as const, p: 0.2 }, // dog called cat
    { path: 'dog.2', label: 1 as const, p: 0.99 },
    { path: 'dog.3', label: 1 as const, p: 0.6 },
  ];
  assert.deepEqual(selectHardest(items, 2).map((c) => c.path), ['cat.1', 'dog.1', 'cat.3', 'dog.3']);
});
