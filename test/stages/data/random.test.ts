import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, shuffle, uniform } from '../../../stages/lib/data/random.ts';

test('createRng is deterministic per seed and differs across seeds', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const sa = Array.from({ length: 5 }, a);
  assert.deepEqual(sa, Array.from({ length: 5 }, b));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, c));
  for (const v of sa) assert.ok(v >= 0 && v < 1);
});

test('createRng output is roughly uniform', () => {
  const rng = createRng(1);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 10000; i++) bins[Math.floor(rng() * 10)]++;
  for (const n of bins) assert.ok(n > 850 && n < 1150, `bin count ${n}`);
});

test('shuffle returns a permutation, leaves the input alone, and is seeded', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const s1 = shuffle(items, createRng(7));
  assert.deepEqual(
    items,
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.deepEqual(
    [...s1].sort((x, y) => x - y),
    items,
  );
  assert.notDeepEqual(s1, items);
  assert.deepEqual(shuffle(items, createRng(7)), s1);
});

test('uniform stays in range and a non-finite seed is rejected', () => {
  const rng = createRng(3);
  for (let i = 0; i < 100; i++) {
    const v = uniform(rng, -2, 5);
    assert.ok(v >= -2 && v < 5);
  }
  assert.throws(() => createRng(Number.NaN), /finite/);
});
