/**
 * Metrics on plain arrays, each with optional frequency weights: weight w on
 * a row counts it w times, exactly scikit-learn's `sample_weight`. The
 * bootstrap scores its resamples through these weights (draw counts), so
 * every metric here doubles as a resampled metric without copying rows.
 * Inputs are `ArrayLike<number>`: arrays and typed arrays alike.
 */

/** Clip for probabilities in log-loss, as in `domain/metrics.ts`: one certain, wrong row costs 34.5, not ∞. */
export const LOG_LOSS_EPSILON = 1e-15;

/**
 * Share of rows whose predicted label equals the true one.
 * Reference: sklearn.metrics.accuracy_score
 *
 * @throws {Error} when lengths differ, there are no rows, or weights are invalid
 * @example
 * accuracy([1, 0, 1, 1], [1, 0, 0, 1]); // => 0.75
 */
export function accuracy(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number {
  checkRows('accuracy', yTrue, yPred, weights);
  let correct = 0;
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const w = weights === undefined ? 1 : weights[i]!;
    if (yTrue[i] === yPred[i]) correct += w;
    total += w;
  }
  return correct / total;
}

/**
 * F1 of the positive class 1: the harmonic mean of precision and recall,
 * 2·TP / (2·TP + FP + FN). With no positive label and no positive prediction
 * it is 0, scikit-learn's default (`zero_division='warn'` returns 0).
 * Reference: https://scikit-learn.org/stable/modules/generated/sklearn.metrics.f1_score.html
 *
 * @throws {Error} when lengths differ, a label or prediction is not 0/1, or weights are invalid
 * @example
 * f1Score([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]); // => 0.6666666666666666 (TP 2, FP 1, FN 1)
 */
export function f1Score(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number {
  checkRows('f1Score', yTrue, yPred, weights);
  checkBinary('f1Score', 'yTrue', yTrue);
  checkBinary('f1Score', 'yPred', yPred);
  let truePositive = 0;
  let errors = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const w = weights === undefined ? 1 : weights[i]!;
    if (yPred[i] === 1 && yTrue[i] === 1) truePositive += w;
    else if (yPred[i] !== yTrue[i]) errors += w;
  }
  const denominator = 2 * truePositive + errors;
  return denominator === 0 ? 0 : (2 * truePositive) / denominator;
}

/**
 * Area under the ROC curve as the Mann–Whitney probability that a random
 * positive scores above a random negative, ties counting ½ (the midrank
 * convention; equal to the trapezoidal area scikit-learn computes).
 * Sorting dominates; use `prepareRocAuc` to sort once and score many weightings.
 * Reference: Hanley & McNeil (1982), Radiology 143(1);
 * https://en.wikipedia.org/wiki/Mann%E2%80%93Whitney_U_test#Area-under-curve_(AUC)_statistic_for_ROC_curves
 *
 * @throws {Error} when lengths differ, a label is not 0/1, a score is not finite,
 * or the (weighted) rows lack one of the two classes
 * @example
 * rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); // => 0.75 (sklearn roc_auc_score)
 */
export function rocAuc(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number {
  return prepareRocAuc(yTrue, scores)(weights);
}

/**
 * `rocAuc` with the sort done once: the returned function scores any
 * weighting of the same rows in O(n), one pass over the rows in score order.
 *
 * @throws {Error} as `rocAuc` (the returned function on a weighting without both classes)
 * @example
 * const auc = prepareRocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
 * auc(); // => 0.75
 * auc([2, 1, 1, 1]); // => 0.8333333333333334: the first negative counts twice
 */
export function prepareRocAuc(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
): (weights?: ArrayLike<number>) => number {
  checkRows('rocAuc', yTrue, scores);
  checkBinary('rocAuc', 'yTrue', yTrue);
  const n = yTrue.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i]))
      throw new Error(`rocAuc: scores[${i}] is ${scores[i]}, not a finite number`);
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a]! - scores[b]!);
  const positive = Uint8Array.from(yTrue);
  return (weights) => {
    if (weights !== undefined) checkWeights('rocAuc', weights, n);
    // Walk the scores upwards, one group of tied scores at a time: each positive
    // beats every lower-scored negative and ties half of its group's negatives.
    let negativesBelow = 0;
    let pairsWon = 0;
    let positives = 0;
    for (let start = 0; start < n; ) {
      const score = scores[order[start]!]!;
      let groupPositives = 0;
      let groupNegatives = 0;
      let end = start;
      for (; end < n && scores[order[end]!] === score; end++) {
        const row = order[end]!;
        const w = weights === undefined ? 1 : weights[row]!;
        if (positive[row] === 1) groupPositives += w;
        else groupNegatives += w;
      }
      pairsWon += groupPositives * (negativesBelow + groupNegatives / 2);
      negativesBelow += groupNegatives;
      positives += groupPositives;
      start = end;
    }
    if (positives === 0 || negativesBelow === 0) {
      throw new Error('rocAuc: needs both classes among the (weighted) rows');
    }
    return pairsWon / (positives * negativesBelow);
  };
}

/**
 * Mean binary cross-entropy in nats, probabilities clipped to
 * [1e-15, 1 − 1e-15].
 * Reference: sklearn.metrics.log_loss
 *
 * @throws {Error} when lengths differ, a label is not 0/1, a probability is outside [0, 1], or weights are invalid
 * @example
 * logLoss([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.6]); // => 0.5402713826800865
 */
export function logLoss(
  yTrue: ArrayLike<number>,
  proba: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number {
  checkRows('logLoss', yTrue, proba, weights);
  checkBinary('logLoss', 'yTrue', yTrue);
  let loss = 0;
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const p = proba[i]!;
    if (!(p >= 0 && p <= 1)) throw new Error(`logLoss: proba[${i}] is ${p}, expected a probability`);
    const w = weights === undefined ? 1 : weights[i]!;
    loss += w * rowLogLoss(yTrue[i]!, p);
    total += w;
  }
  return loss / total;
}

/** −log of the probability given to the true label, clipped; the per-row term of `logLoss`. */
export function rowLogLoss(y: number, p: number): number {
  const clipped = Math.min(Math.max(p, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON);
  return y === 1 ? -Math.log(clipped) : -Math.log(1 - clipped);
}

/**
 * Root mean squared error.
 * Reference: sklearn.metrics.root_mean_squared_error
 *
 * @throws {Error} when lengths differ, a value is not finite, or weights are invalid
 * @example
 * rmse([3, -0.5, 2, 7], [2.5, 0, 2, 8]); // => 0.6123724356957945
 */
export function rmse(
  yTrue: ArrayLike<number>,
  predictions: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number {
  return Math.sqrt(meanOf('rmse', yTrue, predictions, weights, (e) => e * e));
}

/**
 * Mean absolute error.
 * Reference: sklearn.metrics.mean_absolute_error
 *
 * @throws {Error} when lengths differ, a value is not finite, or weights are invalid
 * @example
 * mae([3, -0.5, 2, 7], [2.5, 0, 2, 8]); // => 0.5
 */
export function mae(
  yTrue: ArrayLike<number>,
  predictions: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number {
  return meanOf('mae', yTrue, predictions, weights, Math.abs);
}

function meanOf(
  name: string,
  yTrue: ArrayLike<number>,
  predictions: ArrayLike<number>,
  weights: ArrayLike<number> | undefined,
  penalty: (error: number) => number,
): number {
  checkRows(name, yTrue, predictions, weights);
  let sum = 0;
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const error = predictions[i]! - yTrue[i]!;
    if (!Number.isFinite(error)) throw new Error(`${name}: row ${i} has a non-finite value`);
    const w = weights === undefined ? 1 : weights[i]!;
    sum += w * penalty(error);
    total += w;
  }
  return sum / total;
}

function checkRows(
  name: string,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  weights?: ArrayLike<number>,
): void {
  if (a.length !== b.length) {
    throw new Error(`${name}: inputs must have the same length (${a.length} vs ${b.length})`);
  }
  if (a.length === 0) throw new Error(`${name}: needs at least one row`);
  if (weights !== undefined) checkWeights(name, weights, a.length);
}

function checkWeights(name: string, weights: ArrayLike<number>, n: number): void {
  if (weights.length !== n)
    throw new Error(`${name}: weights must have one value per row (${weights.length} vs ${n})`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!(w >= 0 && w < Number.POSITIVE_INFINITY))
      throw new Error(`${name}: weights[${i}] is ${w}, expected ≥ 0`);
    total += w;
  }
  if (total === 0) throw new Error(`${name}: weights sum to 0`);
}

function checkBinary(name: string, label: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== 0 && v !== 1) throw new Error(`${name}: ${label}[${i}] is ${v}, expected 0 or 1`);
  }
}
