/**
 * Cosine similarity of pooled feature vectors: how the int8 tests and bench/inference.ts measure int8 against
 * fp32 (scale-free, so one bar fits every backbone). One copy, so the tests and the benchmark measure alike.
 */

/** Cosine similarity of two vectors of the same length. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** The cosine similarity of each of the `n` rows of two [n, c] blocks (one row per image). */
export function rowCosines(a: Float32Array, b: Float32Array, n: number): number[] {
  const c = a.length / n;
  return Array.from({ length: n }, (_, i) => cosine(a.subarray(i * c, (i + 1) * c), b.subarray(i * c, (i + 1) * c)));
}

/** The smallest of rowCosines (1 for no rows): the worst image decides. */
export function minCosine(a: Float32Array, b: Float32Array, n: number): number {
  return Math.min(1, ...rowCosines(a, b, n));
}
