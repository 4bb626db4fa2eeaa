import { accuracy, f1Score, logLoss, mae, prepareRocAuc, rmse, rocAuc, rowLogLoss } from './metrics';
import {
  type BootstrapOptions,
  type PairedBootstrapResult,
  pairedBootstrap,
  pairedBootstrapMeanDifference,
} from './paired-bootstrap';
import type { EvaluationMetric } from './policy';

/**
 * The gate's view of each metric: which way is better, its value on a set of
 * rows, and a paired bootstrap interval of the candidate's improvement over
 * the champion. Each metric gets the cheapest exact resampling it allows:
 * means of per-row terms (accuracy, log-loss, MAE) bootstrap the mean of
 * per-row differences, accuracy and F1 collapse to a handful of atoms
 * (multinomial, O(√n) per resample), RMSE and AUC resample rows (O(n)).
 */

export type Direction = 'higher' | 'lower';

export const METRIC_DIRECTION: Readonly<Record<EvaluationMetric, Direction>> = {
  accuracy: 'higher',
  f1: 'higher',
  rocAuc: 'higher',
  logLoss: 'lower',
  rmse: 'lower',
  mae: 'lower',
};

/** Metrics that read yTrue as 0/1 labels and scores as probabilities of class 1. */
export const CLASSIFICATION_METRICS: ReadonlySet<EvaluationMetric> = new Set([
  'accuracy',
  'f1',
  'rocAuc',
  'logLoss',
]);

export interface PairedRows {
  readonly yTrue: ArrayLike<number>;
  readonly candidate: ArrayLike<number>;
  readonly champion: ArrayLike<number>;
  /** A row is predicted positive when its score is ≥ threshold. */
  readonly threshold: number;
}

/** `better − worse` oriented so that a positive number is always an improvement. */
export function orient(metric: EvaluationMetric, candidate: number, champion: number): number {
  return METRIC_DIRECTION[metric] === 'higher' ? candidate - champion : champion - candidate;
}

/**
 * The metric of one model's scores on these rows.
 *
 * @throws {Error} as the metric in `metrics.ts` (e.g. rocAuc with one class only)
 * @example
 * metricValue('accuracy', [1, 0, 1], [0.8, 0.6, 0.3], 0.5); // => 0.3333333333333333
 */
export function metricValue(
  metric: EvaluationMetric,
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
): number {
  switch (metric) {
    case 'accuracy':
      return accuracy(yTrue, predictLabels(scores, threshold));
    case 'f1':
      return f1Score(yTrue, predictLabels(scores, threshold));
    case 'rocAuc':
      return rocAuc(yTrue, scores);
    case 'logLoss':
      return logLoss(yTrue, scores);
    case 'rmse':
      return rmse(yTrue, scores);
    case 'mae':
      return mae(yTrue, scores);
  }
}

/**
 * Paired bootstrap interval of the improvement (positive = candidate better,
 * whichever way the metric points), with its one-sided p-value.
 *
 * @example
 * improvementInterval('logLoss', { yTrue: [1, 0, 1, 0, 1, 0], candidate: [0.9, 0.2, 0.7, 0.4, 0.6, 0.1],
 *   champion: [0.8, 0.3, 0.6, 0.5, 0.7, 0.2], threshold: 0.5 }, { random: seededRandom(42) });
 * // => { estimate: 0.0919… (champion's log-loss − candidate's), lower: -0.0074…, upper: 0.1587…,
 * //      pValue: 0.051, … }
 */
export function improvementInterval(
  metric: EvaluationMetric,
  rows: PairedRows,
  options: BootstrapOptions,
): PairedBootstrapResult {
  const { yTrue, candidate, champion, threshold } = rows;
  const n = yTrue.length;
  switch (metric) {
    case 'accuracy': {
      // Per-row correctness difference in {−1, 0, +1}: three atoms.
      const diffs = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const y = yTrue[i];
        diffs[i] =
          Number((candidate[i]! >= threshold ? 1 : 0) === y) -
          Number((champion[i]! >= threshold ? 1 : 0) === y);
      }
      return pairedBootstrapMeanDifference(diffs, options);
    }
    case 'logLoss':
      return pairedBootstrapMeanDifference(
        perRow(n, (i) => rowLogLoss(yTrue[i]!, champion[i]!) - rowLogLoss(yTrue[i]!, candidate[i]!)),
        options,
      );
    case 'mae':
      return pairedBootstrapMeanDifference(
        perRow(n, (i) => Math.abs(champion[i]! - yTrue[i]!) - Math.abs(candidate[i]! - yTrue[i]!)),
        options,
      );
    case 'rmse': {
      const candidateSquares = perRow(n, (i) => (candidate[i]! - yTrue[i]!) ** 2);
      const championSquares = perRow(n, (i) => (champion[i]! - yTrue[i]!) ** 2);
      const root = (counts: Uint32Array, squares: Float64Array) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += counts[i]! * squares[i]!;
        return Math.sqrt(sum / n);
      };
      // Lower is better: score the champion as "candidate" so the difference is the improvement.
      return pairedBootstrap({
        ...options,
        n,
        metric: (counts) => ({
          candidate: root(counts, championSquares),
          champion: root(counts, candidateSquares),
        }),
      });
    }
    case 'f1':
      return f1Interval(rows, options);
    case 'rocAuc': {
      const candidateAuc = prepareRocAuc(yTrue, candidate);
      const championAuc = prepareRocAuc(yTrue, champion);
      return pairedBootstrap({
        ...options,
        n,
        metric: (counts) => ({ candidate: candidateAuc(counts), champion: championAuc(counts) }),
      });
    }
  }
}

/**
 * F1 depends on the rows only through the paired confusion counts, so the
 * rows collapse to 8 atoms: (label, champion's prediction, candidate's prediction).
 */
function f1Interval(rows: PairedRows, options: BootstrapOptions): PairedBootstrapResult {
  const { yTrue, candidate, champion, threshold } = rows;
  const frequencies = new Array<number>(8).fill(0);
  for (let i = 0; i < yTrue.length; i++) {
    const atom = yTrue[i]! * 4 + (champion[i]! >= threshold ? 2 : 0) + (candidate[i]! >= threshold ? 1 : 0);
    frequencies[atom]!++;
  }
  const f1 = (counts: Uint32Array, predictionBit: number) => {
    let truePositive = 0;
    let errors = 0;
    for (let atom = 0; atom < 8; atom++) {
      const label = atom >> 2;
      const predicted = (atom & predictionBit) === 0 ? 0 : 1;
      if (label === 1 && predicted === 1) truePositive += counts[atom]!;
      else if (label !== predicted) errors += counts[atom]!;
    }
    const denominator = 2 * truePositive + errors;
    return denominator === 0 ? 0 : (2 * truePositive) / denominator;
  };
  return pairedBootstrap({
    ...options,
    frequencies,
    metric: (counts) => ({ candidate: f1(counts, 1), champion: f1(counts, 2) }),
  });
}

export function predictLabels(scores: ArrayLike<number>, threshold: number): Uint8Array {
  const labels = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) labels[i] = scores[i]! >= threshold ? 1 : 0;
  return labels;
}

function perRow(n: number, term: (i: number) => number): Float64Array {
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = term(i);
  return values;
}
