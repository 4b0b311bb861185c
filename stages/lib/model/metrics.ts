/**
 * Binary classification metrics for P(dog) predictions (label 1 = dog, 0 = cat).
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

/** The confusion counts as a matrix: rows = true class, columns = predicted class, order [cat, dog]. */
export function confusionMatrix(c: Confusion): { labels: ['cat', 'dog']; matrix: [[number, number], [number, number]] } {
  return { labels: ['cat', 'dog'], matrix: [[c.tn, c.fp], [c.fn, c.tp]] };
}

/** Clips P(dog) to [lower, 1 − lower] (`predict.clip`; 0 = off). */
export function clip(p: number, lower: number): number {
  return lower > 0 ? Math.min(1 - lower, Math.max(lower, p)) : p;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`labels (${a.length}) and predictions (${b.length}) differ in length`);
}
