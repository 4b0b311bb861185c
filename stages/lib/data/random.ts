/**
 * Seeded randomness: the same seed gives the same split, the same augmentation
 * and the same preview on every machine (Math.random cannot be seeded).
 */

/** A generator of uniform floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast, good enough statistically for shuffles and augmentation draws. */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new TypeError(`random seed must be a finite number, got ${String(seed)}`);
  let state = Math.trunc(seed) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniformly shuffled copy (Fisher–Yates); the input is left untouched. */
export function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i];
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}

/** A uniform float in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}
