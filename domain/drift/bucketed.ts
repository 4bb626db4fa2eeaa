import { type KsResult, ksOfStatistic } from './ks';
import { type PsiResult, psiEdges, psiOfEdges, quantileType7Of } from './psi';
import { countAtMost, sortAscending } from './sample';

/**
 * PSI and the two-sample KS test of two numeric columns, with the very
 * results of the sorted path (`psiSorted`, `ksTwoSampleSorted`: the same D bit
 * for bit, the same edges and counts), without sorting either column.
 *
 * Both columns are counted into B equal-width buckets over their joint range
 * (two passes each: the range, then the counts). The bucket of a value is
 * monotone in the value, so every value of a bucket is below every value of
 * the next, and the cumulative counts give both empirical CDFs exactly at
 * each bucket's largest value. Only a few buckets need their values:
 *
 * - KS: D is the maximum of |i/n1 − j/n2| over the distinct values. At each
 *   bucket's largest value that term is known from the counts; their maximum
 *   is a lower bound L. Inside bucket k the term is at most
 *   max(R(k+1)/n1 − C(k)/n2, C(k+1)/n2 − R(k)/n1) (R, C: values in the
 *   buckets before), also in floating point, where division and subtraction
 *   are monotone. Only buckets whose bound exceeds L can hold a larger term:
 *   their values are gathered, sorted and walked (ties counted as SciPy's
 *   `searchsorted(side='right')`). On smooth data that is a handful of
 *   buckets; D is the maximum of L and their terms, the same maximum over
 *   the same terms as the merge walk.
 * - PSI: an edge is the reference's type 7 quantile, an interpolation
 *   between the values of two consecutive ranks; the buckets from the one
 *   holding the lower rank to the one holding the upper are gathered, so the
 *   ranks' values are known, and so is how many values of each side lie at or
 *   below the edge (the buckets before it, plus a search in its own).
 *
 * One more pass per column gathers the marked buckets. The cost is five
 * streaming passes of the two columns and a few small sorts, where the
 * sorted path sorts both columns whole (measured on 356,000 × 50 columns in
 * bench/drift-vs-evidently: see the README). Where the data are so lumpy
 * that the marked buckets hold most of the values, the gathered values are
 * sorted with `sortAscending`, and the cost is about the sorted path's.
 *
 * Returns null where it does not apply and the caller sorts instead: a side
 * with no finite value or options out of range (the sorted path throws its
 * error), a joint range that is a single value or too wide for the bucket
 * arithmetic, or an edge that rounding put past the buckets gathered for it.
 */
export function bucketedDrift(
  reference: Float64Array,
  current: Float64Array,
  options: { readonly bins: number; readonly epsilon: number },
): { readonly ks: KsResult; readonly psi: PsiResult } | null {
  if (!Number.isInteger(options.bins) || options.bins < 2 || !(options.epsilon > 0 && options.epsilon < 1))
    return null;
  const buckets = bucketCountFor(reference.length + current.length);
  const map = bucketMap(reference, current, buckets);
  if (map === null) return null;
  const refBefore = countsBefore(reference, map, buckets);
  const curBefore = countsBefore(current, map, buckets);
  const n1 = refBefore[buckets]!;
  const n2 = curBefore[buckets]!;
  if (n1 === 0 || n2 === 0) return null;

  // Which buckets to gather: KS candidates, and the buckets around each PSI edge's ranks.
  const marked = new Uint8Array(buckets);
  let bound = 0;
  for (let k = 0; k < buckets; k++) {
    if (refBefore[k + 1] === refBefore[k] && curBefore[k + 1] === curBefore[k]) continue;
    const d = Math.abs(refBefore[k + 1]! / n1 - curBefore[k + 1]! / n2);
    if (d > bound) bound = d;
  }
  for (let k = 0; k < buckets; k++) {
    const above = refBefore[k + 1]! / n1 - curBefore[k]! / n2;
    const below = curBefore[k + 1]! / n2 - refBefore[k]! / n1;
    if (Math.max(above, below) > bound) marked[k] = 1;
  }
  const bucketOfRank = (rank: number) => lastAtMost(refBefore, rank);
  psiEdges(options.bins, (p) =>
    quantileType7Of(n1, p, (rank) => {
      marked.fill(1, bucketOfRank(rank), bucketOfRank(Math.min(rank + 1, n1 - 1)) + 1);
      return 0;
    }),
  );

  const refGathered = gather(reference, map, marked, refBefore);
  const curGathered = gather(current, map, marked, curBefore);

  // KS: the bound, or a larger term inside a candidate bucket.
  let statistic = bound;
  for (let k = 0; k < buckets; k++) {
    if (marked[k] === 0) continue;
    const d = walk(refGathered.of(k), curGathered.of(k), refBefore[k]!, curBefore[k]!, n1, n2);
    if (d > statistic) statistic = d;
  }

  // PSI: edges from the gathered ranks, counts from the buckets before each edge plus its own.
  const at = (rank: number) => {
    const k = bucketOfRank(rank);
    return refGathered.of(k)[rank - refBefore[k]!]!;
  };
  const edges = psiEdges(options.bins, (p) => quantileType7Of(n1, p, at));
  // An edge lies between its two ranks' values; should rounding put it past them, sort instead.
  if (edges.some((edge) => marked[bucketOf(edge, map)] === 0)) return null;
  const atMost = (before: Int32Array, gathered: Gathered) => (x: number) => {
    const k = bucketOf(x, map);
    return before[k]! + countAtMost(gathered.of(k), x);
  };
  const refSide = { count: n1, missing: reference.length - n1 };
  const curSide = { count: n2, missing: current.length - n2 };
  return {
    ks: ksOfStatistic(statistic, refSide, curSide),
    psi: psiOfEdges(
      edges,
      { ...refSide, atMost: atMost(refBefore, refGathered) },
      { ...curSide, atMost: atMost(curBefore, curGathered) },
      options.epsilon,
    ),
  };
}

interface BucketMap {
  readonly lo: number;
  readonly scale: number;
  readonly last: number;
}

/**
 * Monotone in x: subtraction, scaling by a positive number, clamping and
 * truncation all preserve order (the clamp comes first, so `| 0` only sees
 * 0 … last and truncates like Math.floor).
 */
function bucketOf(x: number, map: BucketMap): number {
  return Math.min(Math.max((x - map.lo) * map.scale, 0), map.last) | 0;
}

/**
 * Equal-width buckets over the joint range of a sample of both columns (up to
 * 4,096 values each, evenly strided): a pass over the columns for their exact
 * range would cost as much as counting them. Values beyond the sample's range
 * go to the first or last bucket, which the map keeps monotone; on smooth
 * data those hold a tail of a few hundred values, sorted if ever gathered.
 * When the sample holds a single value, the columns' exact range is used;
 * null when that too is a single value (or no finite value, or too wide).
 */
function bucketMap(reference: Float64Array, current: Float64Array, buckets: number): BucketMap | null {
  let range = joint(rangeOf(reference, SAMPLE), rangeOf(current, SAMPLE));
  if (!(range.max > range.min)) range = joint(rangeOf(reference, 0), rangeOf(current, 0));
  const scale = buckets / (range.max - range.min);
  if (!(scale > 0 && scale < Number.POSITIVE_INFINITY)) return null;
  return { lo: range.min, scale, last: buckets - 1 };
}

const SAMPLE = 4096;

function joint(a: { min: number; max: number }, b: { min: number; max: number }) {
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

/**
 * A power of two from 1,024 to 16,384, about 32 values (both sides) a bucket
 * or more: the counts (4 bytes a bucket) stay in the core's L1/L2 cache while
 * a column is counted, and a bucket is short enough that few are KS
 * candidates. Measured on 356,000 × 50 columns (100 measurements, warm):
 * 4,096 buckets 1.7 s, 8,192 1.25 s, 16,384 0.9 s, 32,768 1.0 s, 65,536 1.3 s.
 */
function bucketCountFor(values: number): number {
  let buckets = 1024;
  while (buckets < 16_384 && buckets * 32 < values) buckets *= 2;
  return buckets;
}

/**
 * The smallest and largest finite value (NaN and ±Infinity left out, as
 * `finiteSorted` does) of every value, or of `sample` evenly strided ones
 * (0: every value).
 */
function rangeOf(values: Float64Array, sample: number): { min: number; max: number } {
  const stride = sample > 0 ? Math.max(1, Math.floor(values.length / sample)) : 1;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i += stride) {
    const v = values[i]!;
    if (v - v !== 0) continue; // NaN or ±Infinity
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** before[k]: the finite values in buckets 0 … k−1 (before[buckets] is all of them). */
function countsBefore(values: Float64Array, map: BucketMap, buckets: number): Int32Array {
  const before = new Int32Array(buckets + 1);
  const { lo, scale, last } = map;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v - v !== 0) continue;
    before[(Math.min(Math.max((v - lo) * scale, 0), last) | 0) + 1]!++;
  }
  for (let k = 0; k < buckets; k++) before[k + 1]! += before[k]!;
  return before;
}

/** The largest k with before[k] ≤ rank: the bucket holding the value of that rank. */
function lastAtMost(before: Int32Array, rank: number): number {
  let lo = 0;
  let hi = before.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (before[mid]! <= rank) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

interface Gathered {
  /** The values of a marked bucket, ascending. */
  of(bucket: number): Float64Array;
}

/** The values of the marked buckets, each bucket's sorted, in one array. */
function gather(values: Float64Array, map: BucketMap, marked: Uint8Array, before: Int32Array): Gathered {
  const start = new Int32Array(marked.length + 1);
  for (let k = 0; k < marked.length; k++) {
    start[k + 1] = start[k]! + (marked[k] === 1 ? before[k + 1]! - before[k]! : 0);
  }
  const out = new Float64Array(start[marked.length]!);
  const next = start.slice(0, marked.length);
  const { lo, scale, last } = map;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v - v !== 0) continue;
    const k = Math.min(Math.max((v - lo) * scale, 0), last) | 0;
    if (marked[k] === 1) out[next[k]!++] = v;
  }
  for (let k = 0; k < marked.length; k++) {
    if (start[k + 1]! - start[k]! > 1) sortAscending(out.subarray(start[k]!, start[k + 1]!));
  }
  return { of: (k) => out.subarray(start[k]!, start[k + 1]!) };
}

/**
 * max |i/n1 − j/n2| after each distinct value of one bucket, i and j starting
 * at the values before it: the merge walk of ./ks on the bucket's values.
 */
function walk(a: Float64Array, b: Float64Array, i: number, j: number, n1: number, n2: number): number {
  let ia = 0;
  let ib = 0;
  let d = 0;
  while (ia < a.length || ib < b.length) {
    const x = ib >= b.length || (ia < a.length && a[ia]! <= b[ib]!) ? a[ia]! : b[ib]!;
    while (ia < a.length && a[ia]! <= x) ia++;
    while (ib < b.length && b[ib]! <= x) ib++;
    const diff = Math.abs((i + ia) / n1 - (j + ib) / n2);
    if (diff > d) d = diff;
  }
  return d;
}
