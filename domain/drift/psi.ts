import { countAtMost, finiteSorted, type NumericValues, type SortedSample } from './sample';

/**
 * Population Stability Index (PSI) of a current sample against a reference:
 *
 *   PSI = Σ_bins (c_i − r_i) · ln(c_i / r_i)
 *
 * where r_i and c_i are the shares of the reference and the current sample in
 * bin i — the symmetrised Kullback–Leibler divergence of the two binned
 * distributions. Rule of thumb: < 0.1 stable, 0.1–0.25 moderate, > 0.25 major
 * shift. References: Siddiqi, N. (2006), "Credit Risk Scorecards", Wiley,
 * ch. 8; Yurdakul, B. (2018), "Statistical Properties of Population Stability
 * Index", https://scholarworks.wmich.edu/dissertations/3208
 */

export const PSI_DEFAULT_BINS = 10;
/**
 * Shares below this are raised to it before the logarithm: an empty bin would
 * otherwise give ln(0) or a division by zero (an infinite PSI). 1e-4 is one
 * row in ten thousand: small enough not to hide a real difference (a bin
 * holding 10% on one side and nothing on the other still adds 0.1 · ln(1000)
 * ≈ 0.69), large enough to keep a single empty bin from dominating the sum.
 */
export const PSI_DEFAULT_EPSILON = 1e-4;

export interface PsiOptions {
  /** Number of quantile bins taken from the reference (before merging duplicate edges). */
  readonly bins?: number;
  /** Floor for a bin's share; see PSI_DEFAULT_EPSILON. */
  readonly epsilon?: number;
}

export interface PsiBin {
  /** Exclusive lower bound; -Infinity for the first bin. */
  readonly lower: number;
  /** Inclusive upper bound; Infinity for the last bin. */
  readonly upper: number;
  /** Share of the reference in the bin, as counted (before the epsilon floor). */
  readonly refShare: number;
  readonly curShare: number;
  /** (c − r) · ln(c / r) with both shares floored at epsilon; never negative. */
  readonly contribution: number;
}

export interface PsiResult {
  readonly psi: number;
  readonly bins: readonly PsiBin[];
  /** Finite values used and cells left out (null, NaN, ±Infinity) on each side. */
  readonly reference: { readonly count: number; readonly missing: number };
  readonly current: { readonly count: number; readonly missing: number };
}

export interface CategoryShare {
  readonly category: string;
  readonly refShare: number;
  readonly curShare: number;
  readonly contribution: number;
}

/**
 * PSI of a numeric feature with quantile bins from the reference.
 *
 * Bins: the interior edges are the reference's quantiles at i/bins,
 * i = 1 … bins−1, by R's type 7 definition (numpy's default 'linear'):
 * h = (n−1)·p, q = x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). Ties in the
 * reference give equal edges; they are merged (sorted, then duplicates
 * dropped, as `np.unique` does), so a feature with 60% zeros gets one bin
 * (−∞, 0] rather than several empty zero-width ones, and ends up with fewer bins than asked.
 * Bins are right-closed, (lower, upper]; the first and last are open-ended,
 * so current values outside the reference's range still land in a bin.
 * Null, NaN and ±Infinity are left out of both samples and counted.
 *
 * @throws {Error} `psi: ...` when either side has no finite value, bins is not
 * an integer ≥ 2, or epsilon is not in (0, 1)
 * @example
 * const r = psi(Float64Array.of(1, 2, 3, 4), Float64Array.of(3, 4, 5, 6), { bins: 2 });
 * r.bins.map((b) => [b.lower, b.upper]); // => [[-Infinity, 2.5], [2.5, Infinity]]
 * r.psi; // => 4.604… (the first bin is empty in the current sample: its share is floored at 1e-4)
 */
export function psi(reference: NumericValues, current: NumericValues, options: PsiOptions = {}): PsiResult {
  return psiSorted(finiteSorted(reference), finiteSorted(current), options);
}

/** `psi` on samples already filtered and sorted by `finiteSorted` (the drift report sorts once per column). */
export function psiSorted(
  reference: SortedSample,
  current: SortedSample,
  options: PsiOptions = {},
): PsiResult {
  const bins = options.bins ?? PSI_DEFAULT_BINS;
  const epsilon = options.epsilon ?? PSI_DEFAULT_EPSILON;
  checkOptions('psi', bins, epsilon);
  const ref = reference.sorted;
  const cur = current.sorted;
  if (ref.length === 0) throw new Error('psi: reference has no finite values');
  if (cur.length === 0) throw new Error('psi: current sample has no finite values');

  const edges = psiEdges(bins, (p) => quantileType7(ref, p));
  return psiOfEdges(
    edges,
    { count: ref.length, missing: reference.missing, atMost: (x) => countAtMost(ref, x) },
    { count: cur.length, missing: current.missing, atMost: (x) => countAtMost(cur, x) },
    epsilon,
  );
}

/**
 * The interior edges of `bins` quantile bins, `quantile(i / bins)` for
 * i = 1 … bins−1, sorted with duplicates merged (as `np.unique` does). The
 * reference sketch (./reference-sketch) gives its stored quantiles here, so
 * that its bins are the exact computation's.
 */
export function psiEdges(bins: number, quantile: (p: number) => number): number[] {
  return uniqueSorted(Array.from({ length: bins - 1 }, (_, i) => quantile((i + 1) / bins)));
}

/** One side of a PSI comparison: its finite count, its missing cells, and its count of values ≤ x. */
export interface PsiSide {
  readonly count: number;
  readonly missing: number;
  readonly atMost: (x: number) => number;
}

/** PSI over right-closed bins between `edges` (ascending, distinct), open at both ends. */
export function psiOfEdges(
  edges: readonly number[],
  reference: PsiSide,
  current: PsiSide,
  epsilon: number,
): PsiResult {
  const bounds = [Number.NEGATIVE_INFINITY, ...edges, Number.POSITIVE_INFINITY];
  const result: PsiBin[] = [];
  let total = 0;
  let refBelow = 0;
  let curBelow = 0;
  for (let i = 0; i < bounds.length - 1; i++) {
    const upper = bounds[i + 1]!;
    const refAtMost = upper === Number.POSITIVE_INFINITY ? reference.count : reference.atMost(upper);
    const curAtMost = upper === Number.POSITIVE_INFINITY ? current.count : current.atMost(upper);
    const refShare = (refAtMost - refBelow) / reference.count;
    const curShare = (curAtMost - curBelow) / current.count;
    const contribution = psiTerm(refShare, curShare, epsilon);
    total += contribution;
    result.push({ lower: bounds[i]!, upper, refShare, curShare, contribution });
    refBelow = refAtMost;
    curBelow = curAtMost;
  }
  return {
    psi: total,
    bins: result,
    reference: { count: reference.count, missing: reference.missing },
    current: { count: current.count, missing: current.missing },
  };
}

/**
 * PSI of a categorical feature: each category is a bin. A category seen on
 * one side only has share 0 on the other, floored at epsilon like an empty
 * numeric bin. Categories are listed in order of first appearance, reference
 * first.
 *
 * @throws {Error} `categoricalPsi: ...` when a side has no counts, a count is
 * negative or not an integer, or epsilon is not in (0, 1)
 * @example
 * categoricalPsi(new Map([['a', 50], ['b', 50]]), new Map([['a', 50], ['b', 50]])).psi; // => 0
 */
export function categoricalPsi(
  reference: ReadonlyMap<string, number>,
  current: ReadonlyMap<string, number>,
  options: Pick<PsiOptions, 'epsilon'> = {},
): { readonly psi: number; readonly categories: readonly CategoryShare[] } {
  const epsilon = options.epsilon ?? PSI_DEFAULT_EPSILON;
  checkOptions('categoricalPsi', PSI_DEFAULT_BINS, epsilon);
  const refTotal = totalOf('categoricalPsi', 'reference', reference);
  const curTotal = totalOf('categoricalPsi', 'current', current);
  const categories = [...new Set([...reference.keys(), ...current.keys()])];
  let total = 0;
  const rows = categories.map((category) => {
    const refShare = (reference.get(category) ?? 0) / refTotal;
    const curShare = (current.get(category) ?? 0) / curTotal;
    const contribution = psiTerm(refShare, curShare, epsilon);
    total += contribution;
    return { category, refShare, curShare, contribution };
  });
  return { psi: total, categories: rows };
}

/** R type 7 quantile of an ascending, non-empty array, 0 ≤ p ≤ 1. */
export function quantileType7(sorted: Float64Array, p: number): number {
  return quantileType7Of(sorted.length, p, (rank) => sorted[rank]!);
}

/**
 * The same quantile of n values known by rank: `at(r)` is the value of rank r
 * (0-based, ascending). Only ranks ⌊(n−1)·p⌋ and the next are asked for.
 */
export function quantileType7Of(n: number, p: number, at: (rank: number) => number): number {
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const a = at(lo);
  const b = at(Math.min(lo + 1, n - 1));
  return a + (h - lo) * (b - a);
}

function uniqueSorted(values: number[]): number[] {
  values.sort((a, b) => a - b);
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

function psiTerm(refShare: number, curShare: number, epsilon: number): number {
  const r = Math.max(refShare, epsilon);
  const c = Math.max(curShare, epsilon);
  return (c - r) * Math.log(c / r);
}

function checkOptions(fn: string, bins: number, epsilon: number): void {
  if (!Number.isInteger(bins) || bins < 2) {
    throw new Error(`${fn}: bins must be an integer ≥ 2, got ${bins}`);
  }
  if (!(epsilon > 0 && epsilon < 1)) {
    throw new Error(`${fn}: epsilon must be in (0, 1), got ${epsilon}`);
  }
}

function totalOf(fn: string, side: string, counts: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const [category, count] of counts) {
    if (!Number.isInteger(count) || count < 0) {
      throw new Error(`${fn}: ${side} count of '${category}' must be a non-negative integer, got ${count}`);
    }
    total += count;
  }
  if (total === 0) throw new Error(`${fn}: ${side} has no counts`);
  return total;
}
