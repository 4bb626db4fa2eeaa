import { gammaln } from 'simple-statistics';

/**
 * The few distribution functions the evaluation tests need, precise to
 * about 1e-15 relative so that p-values deep in the tail (1e-30 for a big
 * hold-out set) are still right and comparable with SciPy.
 *
 * simple-statistics' `errorFunction` is the Numerical Recipes `erfcc`
 * polynomial, good to 1.2e-7 only, and computing erfc as 1 − erf loses every
 * digit in the tail, so erfc has its own implementation here.
 */

// Chebyshev coefficients of Numerical Recipes, 3rd ed., §6.2.2 (`Erf::erfccheb`):
// erfc(z) = t·exp(−z² + ½·c0 + Σ ck·Tk(y)) with t = 2/(2+z), y = 4t − 2,
// relative error below 1.2e-16 for z ≥ 0 (checked against SciPy in the fixtures). c1 is written as
// the double it denotes (NR prints 6.4196979235649026e-1, one digit more than a double holds).
const ERFC_COEFFICIENTS = [
  -1.3026537197817094, 0.6419697923564902, 1.9476473204185836e-2, -9.561514786808631e-3, -9.46595344482036e-4,
  3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6, 1.30365583558e-6,
  1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10,
  9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15,
  -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
] as const;

/**
 * Complementary error function erfc(x) = 1 − erf(x), precise in the tails.
 * Reference: Press et al., Numerical Recipes, 3rd ed. (2007), §6.2.2;
 * https://en.wikipedia.org/wiki/Error_function#Complementary_error_function
 *
 * @throws {Error} when x is NaN
 * @example
 * erfc(1); // => 0.1572992070502851 (scipy.special.erfc(1) = 0.15729920705028516)
 * erfc(10); // => 2.08848758376255e-45, where 1 − erf(10) would be 0
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) throw new Error('erfc: x is NaN');
  return x >= 0 ? erfcNonNegative(x) : 2 - erfcNonNegative(-x);
}

function erfcNonNegative(z: number): number {
  const t = 2 / (2 + z);
  const ty = 4 * t - 2;
  let d = 0;
  let dd = 0;
  // Clenshaw's recurrence for the Chebyshev sum.
  for (let j = ERFC_COEFFICIENTS.length - 1; j > 0; j--) {
    const previous = d;
    d = ty * d - dd + ERFC_COEFFICIENTS[j]!;
    dd = previous;
  }
  return t * Math.exp(-z * z + 0.5 * (ERFC_COEFFICIENTS[0] + ty * d) - dd);
}

/**
 * Survival function P(X ≥ x) of the chi-squared distribution with one
 * degree of freedom: X = Z² for a standard normal Z, so
 * P(X ≥ x) = P(|Z| ≥ √x) = erfc(√(x/2)).
 * Reference: https://en.wikipedia.org/wiki/Chi-squared_distribution
 *
 * @throws {Error} when x is NaN
 * @example
 * chiSquared1Survival(3.841458820694124); // => 0.0500000000000001 (scipy.stats.chi2.sf(3.841458820694124, 1))
 */
export function chiSquared1Survival(x: number): number {
  if (Number.isNaN(x)) throw new Error('chiSquared1Survival: x is NaN');
  if (x <= 0) return 1;
  return erfc(Math.sqrt(x / 2));
}

// Up to here C(n, k) is an exact integer in a double (C(50, 25) ≈ 1.3e14 < 2⁵³).
const EXACT_CHOOSE_MAX_N = 50;

/**
 * C(n, k) by the multiplicative formula: every partial product C(n − k + i, i)
 * is an integer, so each division is exact while n ≤ 50. This gives the
 * small tables of an exact McNemar test exact probabilities (2^−n is exact too).
 */
function choose(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

/** ln C(n, k) by log-gamma (simple-statistics' Lanczos `gammaln`), so n may be in the millions. */
function logChoose(n: number, k: number): number {
  return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1);
}

/**
 * Binomial probability mass P(X = k) for X ~ Binomial(n, p), computed in
 * log space so it neither overflows nor underflows for large n.
 *
 * @throws {Error} when n or k is not a non-negative integer, or p is outside [0, 1]
 * @example
 * binomialProbability(2, 4, 0.5); // => 0.375
 */
export function binomialProbability(k: number, n: number, p: number): number {
  checkBinomial('binomialProbability', k, n, p);
  if (k > n) return 0;
  if (p === 0) return k === 0 ? 1 : 0;
  if (p === 1) return k === n ? 1 : 0;
  if (n <= EXACT_CHOOSE_MAX_N) return choose(n, k) * p ** k * (1 - p) ** (n - k);
  return Math.exp(logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p));
}

/**
 * Binomial cumulative distribution P(X ≤ k) for X ~ Binomial(n, p), by an
 * exact sum of the probabilities. The sum runs over the smaller tail,
 * starting at its largest term (computed with log-gamma) and walking away from
 * the mode with the ratio P(j−1)/P(j) = j/(n−j+1) · (1−p)/p, until the terms no
 * longer change the sum: so the lower tail keeps its relative precision and
 * the cost is O(√n) terms, not O(n). Precision is that of log-gamma: about
 * 1e-15 relative for n in the hundreds, 1e-9 for n ≈ 10⁶ (SciPy agrees to
 * that in the fixtures).
 * Reference: https://en.wikipedia.org/wiki/Binomial_distribution#Cumulative_distribution_function
 *
 * @throws {Error} when n or k is not a non-negative integer, or p is outside [0, 1]
 * @example
 * binomialCdf(3, 20, 0.5); // => 0.001288414001464844 (scipy.stats.binom.cdf(3, 20, 0.5))
 */
export function binomialCdf(k: number, n: number, p: number): number {
  checkBinomial('binomialCdf', k, n, p);
  if (k >= n || p === 0) return 1;
  if (p === 1) return 0;
  const mode = Math.floor((n + 1) * p);
  return k < mode ? lowerTail(k, n, p) : 1 - upperTail(k + 1, n, p);
}

/** P(X ≤ k) for k below the mode: terms decrease as j goes down. */
function lowerTail(k: number, n: number, p: number): number {
  const oddsAgainst = (1 - p) / p;
  let term = binomialProbability(k, n, p);
  let sum = term;
  for (let j = k; j > 0 && term > sum * Number.EPSILON * 1e-3; j--) {
    term *= (j / (n - j + 1)) * oddsAgainst;
    sum += term;
  }
  return Math.min(sum, 1);
}

/** P(X ≥ k) for k above the mode: terms decrease as j goes up. */
function upperTail(k: number, n: number, p: number): number {
  const odds = p / (1 - p);
  let term = binomialProbability(k, n, p);
  let sum = term;
  for (let j = k; j < n && term > sum * Number.EPSILON * 1e-3; j++) {
    term *= ((n - j) / (j + 1)) * odds;
    sum += term;
  }
  return Math.min(sum, 1);
}

function checkBinomial(name: string, k: number, n: number, p: number): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(k) || k < 0) throw new Error(`${name}: k must be a non-negative integer, got ${k}`);
  if (!(p >= 0 && p <= 1)) throw new Error(`${name}: p must be in [0, 1], got ${p}`);
}
