/**
 * Scores of a binary classifier on labelled rows, as evaluation compares
 * candidate and champion on the same hold-out set.
 */

export interface ClassificationMetrics {
  /** Share of rows whose thresholded prediction equals the label. */
  readonly accuracy: number;
  /** Mean binary cross-entropy (natural log), p clipped to [1e-15, 1 − 1e-15]. */
  readonly logLoss: number;
  /** Share of rows predicted positive (not the label base rate): a shift here is an early drift signal. */
  readonly positiveRate: number;
  readonly n: number;
}

// The classic eps of scikit-learn's log_loss: one confident wrong answer
// costs about 34.5 instead of making the mean infinite.
const EPS = 1e-15;

/**
 * Accuracy, log-loss and predicted-positive rate; a row is predicted
 * positive when p ≥ threshold.
 *
 * @throws {Error} when lengths differ, there are no rows, a label is not 0/1,
 * a probability or the threshold is outside [0, 1]
 * @example
 * classificationMetrics([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.6]);
 * // => { accuracy: 0.5, logLoss: 0.5403…, positiveRate: 0.5, n: 4 }
 */
export function classificationMetrics(
  yTrue: readonly number[],
  proba: readonly number[],
  threshold = 0.5,
): ClassificationMetrics {
  if (yTrue.length !== proba.length) {
    throw new Error(
      `classificationMetrics: yTrue and proba must have the same length (${yTrue.length} vs ${proba.length})`,
    );
  }
  if (yTrue.length === 0) throw new Error('classificationMetrics: needs at least one row');
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new Error(`classificationMetrics: threshold must be in [0, 1], got ${threshold}`);
  }
  let correct = 0;
  let positive = 0;
  let loss = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const y = yTrue[i]!;
    const p = proba[i]!;
    if (y !== 0 && y !== 1) throw new Error(`classificationMetrics: yTrue[${i}] is ${y}, expected 0 or 1`);
    if (!(p >= 0 && p <= 1)) {
      throw new Error(`classificationMetrics: proba[${i}] is ${p}, expected a probability`);
    }
    const predicted = p >= threshold ? 1 : 0;
    if (predicted === y) correct++;
    positive += predicted;
    const clipped = Math.min(Math.max(p, EPS), 1 - EPS);
    loss -= y === 1 ? Math.log(clipped) : Math.log(1 - clipped);
  }
  const n = yTrue.length;
  return { accuracy: correct / n, logLoss: loss / n, positiveRate: positive / n, n };
}
