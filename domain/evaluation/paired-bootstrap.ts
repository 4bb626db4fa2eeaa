import type { RandomSource } from '../random';
import { quantileSorted } from './quantile';
import { RowResampler, resampleAtomCounts } from './resampling';

/**
 * Paired bootstrap of a difference between two models scored on the same
 * rows: every resample draws rows (with replacement) once and scores BOTH
 * models on it, so the row-to-row variation that they share cancels and the
 * interval is far narrower than two independent intervals would suggest.
 * Resamples are draw counts per row (see `resampling.ts`), so a metric is a
 * function of frequency weights, scikit-learn's `sample_weight`.
 * Reference: Efron & Tibshirani, An Introduction to the Bootstrap (1993), §13.3
 * (percentile interval); Koehn (2004), "Statistical significance tests for
 * machine translation evaluation" (paired bootstrap for model comparison).
 */

export interface PairedBootstrapResult {
  /** candidate − champion on the data as given. */
  readonly estimate: number;
  /** Percentile interval: the α/2 and 1 − α/2 quantiles (type 7) of the resampled differences. */
  readonly lower: number;
  readonly upper: number;
  readonly resamples: number;
  readonly alpha: number;
  readonly method: 'percentile';
  /**
   * Share of resampled differences ≤ 0: an estimate of the one-sided p-value
   * for "the candidate is not better". Its Monte Carlo error is about
   * √(p(1 − p)/resamples); it is 0, not "below 1/resamples", when no resample is ≤ 0.
   */
  readonly pValue: number;
  /** Standard deviation of the resampled differences: the bootstrap standard error of the estimate. */
  readonly standardError: number;
}

export interface BootstrapOptions {
  /** Default 2000: enough for 95% percentile bounds to ±0.06 standard errors. */
  readonly resamples?: number;
  /** Two-sided level of the interval; default 0.05. */
  readonly alpha?: number;
  readonly random: RandomSource;
}

/** Distinct values up to which a mean difference is resampled as atoms (multinomial) rather than rows. */
const MAX_ATOMS = 32;

/**
 * Percentile CI of candidate − champion for any metric. `metric(counts)`
 * scores both models with row (or atom) i weighted by counts[i]; the counts
 * array is reused between calls, so the metric must not keep it. Give either
 * `n` rows, or `frequencies` when the rows collapse to a few atoms: then
 * counts are per atom, drawn as one multinomial, and cost O(atoms·√n).
 *
 * @throws {Error} when neither or both of n and frequencies are given, resamples < 2,
 * alpha is outside (0, 1), or the metric returns a non-finite difference
 * @example
 * // RMSE, a smooth function of weighted means of squared errors
 * const [seCandidate, seChampion] = [[0.04, 0.01, 0.09, 0.0], [0.16, 0.04, 0.09, 0.01]];
 * const rmse = (w: Uint32Array, se: number[]) => Math.sqrt(se.reduce((s, e, i) => s + w[i]! * e, 0) / 4);
 * pairedBootstrap({ n: 4, random: seededRandom(1),
 *   metric: (w) => ({ candidate: rmse(w, seCandidate), champion: rmse(w, seChampion) }) });
 * // => { estimate: -0.0868…, lower: -0.1768…, upper: -0.0115…, resamples: 2000, alpha: 0.05,
 *        method: 'percentile', pValue: 1, standardError: 0.0456… }
 */
export function pairedBootstrap(
  options: BootstrapOptions & {
    readonly n?: number;
    readonly frequencies?: ArrayLike<number>;
    readonly metric: (counts: Uint32Array) => { candidate: number; champion: number };
  },
): PairedBootstrapResult {
  const { metric } = options;
  const difference = (counts: Uint32Array) => {
    const scored = metric(counts);
    return scored.candidate - scored.champion;
  };
  if ((options.n === undefined) === (options.frequencies === undefined)) {
    throw new Error('pairedBootstrap: give exactly one of n (rows) and frequencies (atoms)');
  }
  if (options.frequencies !== undefined) return bootstrapAtoms(options.frequencies, difference, options);
  const n = options.n!;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`pairedBootstrap: n must be a positive integer, got ${n}`);
  return bootstrapRows(n, difference, options);
}

/**
 * The fast path for metrics that are means over rows (accuracy, log-loss,
 * MAE, Brier): the difference of means is the mean of per-row differences,
 * computed once. Rows that take at most 32 distinct values (accuracy:
 * −1, 0, +1) are resampled as a multinomial over those values, so a million
 * rows cost microseconds per resample; otherwise each resample draws n rows
 * (`RowResampler.sum`, about 1.3 ns a row) and sums their differences
 * without writing counts. Either way a resample is an exact
 * Multinomial(n; 1/n, …) draw of the rows, the textbook bootstrap.
 * `compress: false` forces the row path (for tests).
 *
 * @throws {Error} when diffs is empty or holds a non-finite value, or as `pairedBootstrap`
 * @example
 * // per-row correctness: candidate − champion (+1 fixed, −1 broken, 0 same)
 * pairedBootstrapMeanDifference(Float64Array.from([1, 0, 0, 1, -1, 0, 1, 0]), { random: seededRandom(3) });
 * // => { estimate: 0.25, lower: -0.25, upper: 0.75, resamples: 2000, alpha: 0.05, method: 'percentile',
 *        pValue: 0.2005, standardError: 0.2337… }
 */
export function pairedBootstrapMeanDifference(
  diffs: ArrayLike<number>,
  options: BootstrapOptions & { readonly compress?: boolean },
): PairedBootstrapResult {
  const n = diffs.length;
  if (n === 0) throw new Error('pairedBootstrapMeanDifference: needs at least one row');
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(diffs[i]))
      throw new Error(`pairedBootstrapMeanDifference: diffs[${i}] is ${diffs[i]}`);
  }
  const atoms = options.compress === false ? null : distinctValues(diffs, MAX_ATOMS);
  if (atoms !== null) {
    const values = [...atoms.keys()];
    const weightedMean = (counts: Uint32Array) => {
      let sum = 0;
      for (let j = 0; j < values.length; j++) sum += counts[j]! * values[j]!;
      return sum / n;
    };
    return bootstrapAtoms([...atoms.values()], weightedMean, options);
  }
  const values = Float64Array.from(diffs);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const resampler = new RowResampler(n, options.random);
  return summariseResamples(sum / n, options, () => resampler.sum(values) / n);
}

type Difference = (counts: Uint32Array) => number;

function bootstrapRows(n: number, difference: Difference, options: BootstrapOptions): PairedBootstrapResult {
  const counts = new Uint32Array(n).fill(1);
  const estimate = difference(counts);
  const resampler = new RowResampler(n, options.random);
  return summariseResamples(estimate, options, () => {
    resampler.counts(counts);
    return difference(counts);
  });
}

function bootstrapAtoms(
  frequencies: ArrayLike<number>,
  difference: Difference,
  options: BootstrapOptions,
): PairedBootstrapResult {
  const counts = Uint32Array.from(frequencies);
  const fixed = Array.from(frequencies);
  return summariseResamples(difference(counts), options, () => {
    resampleAtomCounts(fixed, counts, options.random);
    return difference(counts);
  });
}

/**
 * The percentile interval, one-sided p-value and standard error from
 * `options.resamples` calls of `resampledDifference`, each the difference on
 * one fresh resample; the resampling scheme is the caller's.
 *
 * @throws {Error} when resamples < 2, alpha is outside (0, 1), or the estimate or a resampled difference is not finite
 * @example
 * summariseResamples(0.5, { resamples: 4, random }, nextDifference);
 * // => { estimate: 0.5, lower: …, upper: …, resamples: 4, alpha: 0.05, method: 'percentile', … }
 */
export function summariseResamples(
  estimate: number,
  options: BootstrapOptions,
  resampledDifference: () => number,
): PairedBootstrapResult {
  const { resamples = 2000, alpha = 0.05 } = options;
  if (!Number.isInteger(resamples) || resamples < 2) {
    throw new Error(`pairedBootstrap: resamples must be an integer ≥ 2, got ${resamples}`);
  }
  if (!(alpha > 0 && alpha < 1)) throw new Error(`pairedBootstrap: alpha must be in (0, 1), got ${alpha}`);
  if (!Number.isFinite(estimate)) throw new Error(`pairedBootstrap: the metric difference is ${estimate}`);
  const differences = new Float64Array(resamples);
  let notBetter = 0;
  let sum = 0;
  for (let r = 0; r < resamples; r++) {
    const d = resampledDifference();
    if (!Number.isFinite(d)) {
      throw new Error(
        `pairedBootstrap: resample ${r} gave a difference of ${d} (a resample without a needed class?)`,
      );
    }
    differences[r] = d;
    if (d <= 0) notBetter++;
    sum += d;
  }
  const mean = sum / resamples;
  let squares = 0;
  for (let r = 0; r < resamples; r++) squares += (differences[r]! - mean) ** 2;
  differences.sort();
  return {
    estimate,
    lower: quantileSorted(differences, alpha / 2),
    upper: quantileSorted(differences, 1 - alpha / 2),
    resamples,
    alpha,
    method: 'percentile',
    pValue: notBetter / resamples,
    standardError: Math.sqrt(squares / (resamples - 1)),
  };
}

/** The distinct values with their frequencies, or null as soon as there are more than `max`. */
function distinctValues(values: ArrayLike<number>, max: number): Map<number, number> | null {
  const frequencies = new Map<number, number>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const seen = frequencies.get(v);
    if (seen === undefined) {
      if (frequencies.size === max) return null;
      frequencies.set(v, 1);
    } else frequencies.set(v, seen + 1);
  }
  return frequencies;
}
