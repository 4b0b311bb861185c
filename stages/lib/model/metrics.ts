/**
 * Classification metrics. Two classes: P(second class) predictions, label 1 =
 * the second class (with the Kaggle classes, dog). N classes: rows of N class
 * probabilities, flat [n × N], label = class index.
 * Plain arrays in, plain numbers out: used by train, predict and the benchmark.
 */

/** Kaggle's log loss: predictions are clipped to [eps, 1 − eps] so one confident miss cannot be infinite. */
export function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>, eps = 1e-15): number {
  checkSameLength(labels, probs);
  if (labels.length === 0) throw new Error('logLoss of an empty set');
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i]));
    sum += labels[i] === 1 ? -Math.log(p) : -Math.log(1 - p);
  }
  return sum / labels.length;
}

/** Fraction of predictions on the right side of `threshold`. */
export function accuracy(labels: ArrayLike<number>, probs: ArrayLike<number>, threshold = 0.5): number {
  const c = confusion(labels, probs, threshold);
  return (c.tp + c.tn) / (c.tp + c.tn + c.fp + c.fn);
}

/** Confusion counts with dog (1) as the positive class. */
export interface Confusion {
  /** dogs called dogs */
  tp: number;
  /** cats called cats */
  tn: number;
  /** cats called dogs */
  fp: number;
  /** dogs called cats */
  fn: number;
}

export function confusion(labels: ArrayLike<number>, probs: ArrayLike<number>, threshold = 0.5): Confusion {
  checkSameLength(labels, probs);
  const c: Confusion = { tp: 0, tn: 0, fp: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const dog = probs[i] > threshold;
    if (labels[i] === 1) c[dog ? 'tp' : 'fn']++;
    else if (labels[i] === 0) c[dog ? 'fp' : 'tn']++;
    else throw new Error(`label ${labels[i]} at index ${i} is neither 0 (cat) nor 1 (dog)`);
  }
  return c;
}

/** The confusion counts as a matrix: rows = true class, columns = predicted class, in class order. */
export function confusionMatrix(
  c: Confusion,
  classes: readonly [string, string] = ['cat', 'dog'],
): { labels: [string, string]; matrix: [[number, number], [number, number]] } {
  return {
    labels: [...classes],
    matrix: [
      [c.tn, c.fp],
      [c.fn, c.tp],
    ],
  };
}

/** The most probable class of each row of `probs` ([n × classes]); ties go to the first. */
export function predictedClasses(probs: ArrayLike<number>, classes: number): number[] {
  const n = probs.length / classes;
  return Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let j = 1; j < classes; j++) if (probs[i * classes + j] > probs[i * classes + best]) best = j;
    return best;
  });
}

/** Multi-class log loss (Kaggle's and Keras' categorical cross-entropy): −log of the true class's probability, clipped to [eps, 1 − eps]. */
export function categoricalLogLoss(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  classes: number,
  eps = 1e-15,
): number {
  checkRows(labels, probs, classes);
  if (labels.length === 0) throw new Error('logLoss of an empty set');
  let sum = 0;
  for (let i = 0; i < labels.length; i++)
    sum -= Math.log(Math.min(1 - eps, Math.max(eps, probs[i * classes + labels[i]])));
  return sum / labels.length;
}

/** Fraction of rows whose most probable class is the true one. */
export function categoricalAccuracy(labels: ArrayLike<number>, probs: ArrayLike<number>, classes: number): number {
  checkRows(labels, probs, classes);
  const predicted = predictedClasses(probs, classes);
  return predicted.filter((p, i) => p === labels[i]).length / labels.length;
}

/** N × N counts: rows = true class, columns = predicted class. */
export function confusionMatrixOf(
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): number[][] {
  checkSameLength(labels, predicted);
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predicted[i]]++;
  return m;
}

/** Each true class's share predicted right (the matrix's diagonal over its row); null for a class with no examples. */
export function perClassAccuracy(matrix: readonly (readonly number[])[]): (number | null)[] {
  return matrix.map((row, k) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n === 0 ? null : row[k] / n;
  });
}

/** Clips P(dog) to [lower, 1 − lower] (`predict.clip`; 0 = off). */
export function clip(p: number, lower: number): number {
  return lower > 0 ? Math.min(1 - lower, Math.max(lower, p)) : p;
}

/**
 * N classes: each probability clipped to [lower, 1 − lower] (`predict.clip`; 0 = off), then the
 * row divided by its sum so it adds up to 1 again (a clipped entry may end a hair under `lower`).
 */
export function clipRow(row: readonly number[], lower: number): number[] {
  if (!(lower > 0)) return [...row];
  const clipped = row.map((p) => clip(p, lower));
  const sum = clipped.reduce((a, b) => a + b, 0);
  return clipped.map((p) => p / sum);
}

function checkRows(labels: ArrayLike<number>, probs: ArrayLike<number>, classes: number): void {
  if (probs.length !== labels.length * classes)
    throw new Error(
      `labels (${labels.length}) and predictions (${probs.length / classes} rows of ${classes}) differ in length`,
    );
  for (let i = 0; i < labels.length; i++) {
    if (!(Number.isInteger(labels[i]) && labels[i] >= 0 && labels[i] < classes))
      throw new Error(`label ${labels[i]} at index ${i} is not a class index 0–${classes - 1}`);
  }
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`labels (${a.length}) and predictions (${b.length}) differ in length`);
}
