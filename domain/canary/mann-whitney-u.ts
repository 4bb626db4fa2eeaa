import { type Alternative, normalSf } from './normal';

/**
 * Mann–Whitney U test (Wilcoxon rank-sum): is one sample stochastically
 * larger than the other? The canary uses it on request latencies, which are
 * skewed and heavy-tailed, so a rank test suits them better than a t-test.
 * References: https://en.wikipedia.org/wiki/Mann%E2%80%93Whitney_U_test;
 * scipy.stats.mannwhitneyu (whose conventions this follows).
 */

export interface MannWhitneyResult {
  /** U of the first sample: its rank sum − n1(n1 + 1)/2 (scipy's statistic). */
  readonly u: number;
  readonly pValue: number;
  /** The normal approximation's z (continuity-corrected if asked); null for the exact method. */
  readonly z: number | null;
  readonly method: 'exact' | 'asymptotic';
  readonly n1: number;
  readonly n2: number;
  /** Whether any value occurs more than once in the pooled sample. */
  readonly ties: boolean;
}

/**
 * The exact method counts every arrangement of ranks, which assumes no ties;
 * 'auto' uses it when there are none and the smaller sample has at most this
 * many values (scipy's rule), where the normal approximation is at its worst.
 */
export const MANN_WHITNEY_EXACT_MAX_SMALLER = 8;

/**
 * Tests whether `first` tends to be larger ('greater'), smaller ('less') or
 * either ('two-sided') than `second`.
 *
 * Asymptotic method: U is approximately normal with mean n1·n2/2 and variance
 * n1·n2/12 · ((n + 1) − Σ(t³ − t)/(n(n − 1))), the second term correcting for
 * groups of t tied values; with `continuity` (default) ½ is taken off |U − mean|
 * for the discrete statistic. Two-sided: 2·P(Z ≥ z) for U = max(U1, U2).
 * Exact method: the null distribution of U is the coefficient list of the
 * Gaussian binomial [n1 + n2 choose n1]_q, built by its product formula; the
 * p-value sums it over the tail, counting the observed U itself.
 * Every p-value is clipped to [0, 1]. A pooled sample with all values equal
 * has nothing to rank: p = 1.
 *
 * @throws {Error} when a sample is empty or holds a non-finite value, or 'exact'
 * is asked for with ties
 * @example
 * mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12], { alternative: 'greater' });
 * // => { u: 17, pValue: 0.05555555555555555, method: 'exact', … } (the same as scipy.stats.mannwhitneyu)
 */
export function mannWhitneyU(
  first: readonly number[],
  second: readonly number[],
  options: { alternative?: Alternative; continuity?: boolean; method?: 'auto' | 'exact' | 'asymptotic' } = {},
): MannWhitneyResult {
  const alternative = options.alternative ?? 'two-sided';
  const continuity = options.continuity ?? true;
  const n1 = first.length;
  const n2 = second.length;
  if (n1 === 0 || n2 === 0) throw new Error('mannWhitneyU: both samples need at least one value');
  if (!first.every(Number.isFinite) || !second.every(Number.isFinite)) {
    throw new Error('mannWhitneyU: samples must hold finite numbers only');
  }
  const { rankSumFirst, tieTerm } = rankFirst(first, second);
  const u = rankSumFirst - (n1 * (n1 + 1)) / 2;
  const ties = tieTerm > 0;
  const method =
    options.method === undefined || options.method === 'auto'
      ? !ties && Math.min(n1, n2) <= MANN_WHITNEY_EXACT_MAX_SMALLER
        ? 'exact'
        : 'asymptotic'
      : options.method;
  if (method === 'exact' && ties) {
    throw new Error('mannWhitneyU: the exact method assumes no ties; use the asymptotic one');
  }
  // As scipy: 'less' looks at U2 = n1·n2 − U1 in the upper tail; two-sided doubles the larger U's tail.
  const u2 = n1 * n2 - u;
  const [tailU, factor] =
    alternative === 'greater' ? [u, 1] : alternative === 'less' ? [u2, 1] : [Math.max(u, u2), 2];

  if (method === 'exact') {
    const p = factor * exactUpperTail(tailU, n1, n2);
    return { u, pValue: clip01(p), z: null, method, n1, n2, ties };
  }
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { u, pValue: 1, z: 0, method, n1, n2, ties };
  const z = (tailU - mean - (continuity ? 0.5 : 0)) / Math.sqrt(variance);
  return { u, pValue: clip01(factor * normalSf(z)), z, method, n1, n2, ties };
}

/** Rank sum of `first` in the pooled sample (ties get their average rank) and Σ(t³ − t) over tie groups. */
function rankFirst(
  first: readonly number[],
  second: readonly number[],
): { rankSumFirst: number; tieTerm: number } {
  const n1 = first.length;
  const pooled = new Float64Array(n1 + second.length);
  pooled.set(first, 0);
  pooled.set(second, n1);
  const order = Array.from(pooled.keys()).sort((a, b) => pooled[a]! - pooled[b]!);
  let rankSumFirst = 0;
  let tieTerm = 0;
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && pooled[order[end]!] === pooled[order[start]!]) end++;
    const t = end - start;
    const averageRank = (start + 1 + end) / 2; // ranks start + 1 … end
    for (let k = start; k < end; k++) if (order[k]! < n1) rankSumFirst += averageRank;
    if (t > 1) tieTerm += t ** 3 - t;
    start = end;
  }
  return { rankSumFirst, tieTerm };
}

/**
 * P(U ≥ u) under the null with no ties. The number of rank arrangements with
 * U = k is the coefficient of q^k in [m + n choose m]_q = Π_{j=1..m} (1 − q^{n+j})/(1 − q^j)
 * (m the smaller size); each factor is applied as a multiplication by
 * (1 − q^{n+j}) then a running-sum division by (1 − q^j). The coefficients are
 * counts up to C(m + n, m), kept as doubles; rounding is relative to the
 * largest, far below the 1e-6 the tests ask for.
 */
function exactUpperTail(u: number, n1: number, n2: number): number {
  const m = Math.min(n1, n2);
  const n = Math.max(n1, n2);
  const degree = m * n;
  let coefficients = new Float64Array(degree + 1);
  coefficients[0] = 1;
  for (let j = 1; j <= m; j++) {
    const next = new Float64Array(degree + 1);
    const shift = n + j;
    for (let k = 0; k <= degree; k++)
      next[k] = coefficients[k]! - (k >= shift ? coefficients[k - shift]! : 0);
    for (let k = j; k <= degree; k++) next[k] = next[k]! + next[k - j]!;
    coefficients = next;
  }
  let total = 0;
  let tail = 0;
  const from = Math.ceil(u - 1e-9);
  for (let k = 0; k <= degree; k++) {
    total += coefficients[k]!;
    if (k >= from) tail += coefficients[k]!;
  }
  return tail / total;
}

function clip01(p: number): number {
  return Math.min(1, Math.max(0, p));
}
