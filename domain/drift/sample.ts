/**
 * A numeric sample as the drift tests read it: the finite values, sorted
 * ascending, and how many cells were left out. Sorting once per column and
 * sharing the result is what keeps a drift report O(n log n): PSI takes its
 * quantile edges from the sorted reference and counts the current sample by
 * binary search, and KS walks both sorted samples once.
 */

/** A numeric column: a typed array, or numbers with null for a missing cell. */
export type NumericValues = Float64Array | readonly (number | null)[];

export interface SortedSample {
  /** The finite values, ascending. */
  readonly sorted: Float64Array;
  /** Cells left out: null, NaN, +Infinity and -Infinity. */
  readonly missing: number;
}

/**
 * Copies the finite values of a column and sorts them ascending.
 *
 * Null and NaN are missing values. ±Infinity is left out and counted with
 * them: it has no place in a quantile (the interpolation would give NaN or an
 * infinite edge) and in a feature column it is an upstream bug, not a value.
 *
 * @example
 * finiteSorted([3, null, 1, Number.NaN, 2]);
 * // => { sorted: Float64Array [1, 2, 3], missing: 2 }
 */
export function finiteSorted(values: NumericValues): SortedSample {
  const out = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'number' && Number.isFinite(v)) out[n++] = v;
  }
  const sorted = n === out.length ? out : out.slice(0, n);
  // TypedArray#sort without a comparator sorts numerically (Array#sort would compare strings).
  sorted.sort();
  return { sorted, missing: values.length - n };
}

/**
 * Number of values ≤ x in an ascending array (numpy `searchsorted(side='right')`).
 *
 * @example
 * countAtMost(Float64Array.of(1, 2, 2, 3), 2); // => 3
 */
export function countAtMost(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
