import { erfc } from '../evaluation/special-functions';

/**
 * The standard normal distribution, from the tail-precise `erfc` of the
 * evaluation gate. simple-statistics' `cumulativeStdNormalProbability` reads
 * a four-digit table at steps of 0.01, too coarse for p-values that must
 * match SciPy to 1e-6, so the canary tests use these instead.
 */

/** Which way the alternative hypothesis points. 'greater': the first sample's parameter is larger. */
export type Alternative = 'two-sided' | 'greater' | 'less';

/**
 * Survival function P(Z ≥ z) of the standard normal: ½·erfc(z/√2), precise
 * deep in the upper tail (where 1 − Φ(z) would round to 0).
 * Reference: https://en.wikipedia.org/wiki/Normal_distribution#Cumulative_distribution_function
 *
 * @throws {Error} when z is NaN
 * @example
 * normalSf(1.6448536269514722); // => 0.050000000000000065 (scipy.stats.norm.sf: 0.05)
 * normalSf(10); // => 7.61985302416061e-24 (scipy: 7.61985302416047e-24)
 */
export function normalSf(z: number): number {
  if (Number.isNaN(z)) throw new Error('normalSf: z is NaN');
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Cumulative distribution Φ(z) = P(Z ≤ z) of the standard normal.
 *
 * @throws {Error} when z is NaN
 * @example
 * normalCdf(-1.959963984540054); // => 0.025000000000000022
 */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) throw new Error('normalCdf: z is NaN');
  return 0.5 * erfc(-z / Math.SQRT2);
}

/**
 * The p-value of a statistic z that is standard normal under the null:
 * P(Z ≥ z) for 'greater', P(Z ≤ z) for 'less', 2·P(Z ≥ |z|) for 'two-sided'.
 * z may be ±Infinity (a test with zero standard error and a non-null estimate).
 *
 * @throws {Error} when z is NaN
 * @example
 * normalPValue(1.96, 'two-sided'); // => 0.049995790296440884
 */
export function normalPValue(z: number, alternative: Alternative): number {
  if (Number.isNaN(z)) throw new Error('normalPValue: z is NaN');
  if (alternative === 'greater') return normalSf(z);
  if (alternative === 'less') return normalCdf(z);
  return Math.min(1, 2 * normalSf(Math.abs(z)));
}
