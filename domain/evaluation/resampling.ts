import { gammaln } from 'simple-statistics';
import type { RandomSource } from '../random';

/**
 * Drawing bootstrap resamples as counts. A resample of n rows with
 * replacement is fully described by how often each row was drawn, a
 * Multinomial(n; 1/n, …, 1/n) vector. Metrics then read the data once, in
 * order, weighting row i by its count: the same number as evaluating the
 * metric on the materialised resample, without building it.
 *
 * When the rows take only a few distinct "atoms" (the four cells of a paired
 * correctness table, the eight of a paired confusion matrix), the resample is
 * a Multinomial(n; f₁/n, …, f_k/n) over atoms, drawn by k − 1 conditional
 * binomials: O(k·√n) work per resample instead of O(n).
 * Reference: Efron & Tibshirani, An Introduction to the Bootstrap (1993), ch. 6;
 * https://en.wikipedia.org/wiki/Multinomial_distribution#Sampling_from_a_multinomial_distribution
 */

/**
 * Fills `counts` (length n) with the draw counts of one resample of n rows:
 * n uniform draws, row ⌊u·n⌋ each. The stream contract (one `random()` per
 * drawn row, in order) is what the fixtures replay in Python.
 *
 * @example
 * const counts = new Uint32Array(4);
 * resampleRowCounts(counts, seededRandom(1)); // counts => [1, 0, 2, 1]
 */
export function resampleRowCounts(counts: Uint32Array, random: RandomSource): void {
  const n = counts.length;
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    counts[Math.floor(random() * n)]!++;
  }
}

/**
 * Fills `counts` with one Multinomial(total; frequencies / total) draw:
 * atom j gets Binomial(remaining, fⱼ / (fⱼ + … + f_k)) of what earlier atoms
 * left, the last atom the rest.
 *
 * @throws {Error} when a frequency is negative or not an integer, or none is positive
 * @example
 * const counts = new Uint32Array(3);
 * resampleAtomCounts([10, 80, 10], counts, seededRandom(1)); // counts => [7, 83, 10]
 */
export function resampleAtomCounts(
  frequencies: ArrayLike<number>,
  counts: Uint32Array,
  random: RandomSource,
): void {
  let rest = 0;
  for (let j = 0; j < frequencies.length; j++) {
    const f = frequencies[j]!;
    if (!Number.isInteger(f) || f < 0) {
      throw new Error(`resampleAtomCounts: frequencies[${j}] must be a non-negative integer, got ${f}`);
    }
    rest += f;
  }
  if (rest === 0) throw new Error('resampleAtomCounts: needs a positive frequency');
  let remaining = rest;
  for (let j = 0; j < frequencies.length; j++) {
    const f = frequencies[j]!;
    const drawn = rest === f ? remaining : binomialSample(remaining, f / rest, random);
    counts[j] = drawn;
    remaining -= drawn;
    rest -= f;
  }
}

/**
 * One Binomial(n, p) draw by inversion, searching outward from the mode
 * (mode, mode − 1, mode + 1, …) so that the expected work is O(√(np(1−p)))
 * terms, about 300 for a million rows. Any order of the outcomes is an exact
 * inversion; this one visits the likely ones first. The mode's probability
 * comes from log-gamma, the others from the ratio of neighbours.
 * Reference: Kachitvichyanukul & Schmeiser (1988), "Binomial random variate
 * generation", CACM 31(2), the inversion family.
 *
 * @throws {Error} when n is not a non-negative integer or p is outside [0, 1]
 * @example
 * binomialSample(1_000_000, 0.1, seededRandom(7)); // => 100004 (mean 100000, sd 300)
 */
export function binomialSample(n: number, p: number, random: RandomSource): number {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`binomialSample: n must be a non-negative integer, got ${n}`);
  if (!(p >= 0 && p <= 1)) throw new Error(`binomialSample: p must be in [0, 1], got ${p}`);
  if (n === 0 || p === 0) return 0;
  if (p === 1) return n;
  const q = 1 - p;
  const mode = Math.min(n, Math.floor((n + 1) * p));
  const modeProbability = Math.exp(
    gammaln(n + 1) -
      gammaln(mode + 1) -
      gammaln(n - mode + 1) +
      mode * Math.log(p) +
      (n - mode) * Math.log(q),
  );
  let u = random() - modeProbability;
  if (u < 0) return mode;
  let low = mode;
  let high = mode;
  let lowProbability = modeProbability;
  let highProbability = modeProbability;
  while (low > 0 || high < n) {
    if (low > 0) {
      lowProbability *= (low / (n - low + 1)) * (q / p);
      low--;
      u -= lowProbability;
      if (u < 0) return low;
    }
    if (high < n) {
      highProbability *= ((n - high) / (high + 1)) * (p / q);
      high++;
      u -= highProbability;
      if (u < 0) return high;
    }
    // Both tails are spent or underflowed: u is left over only by rounding (< 1e-12).
    if ((low === 0 || lowProbability === 0) && (high === n || highProbability === 0)) break;
  }
  return mode;
}
