/**
 * Sample quantile of sorted data by linear interpolation between order
 * statistics: Hyndman & Fan's type 7, R's `quantile(x, p, type = 7)` default
 * and numpy's `np.percentile(x, 100·p)` default ('linear'). With h = (n − 1)·p,
 * Q(p) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋]).
 * (simple-statistics' `quantileSorted` is a different definition, hence this one.)
 * Reference: Hyndman & Fan (1996), "Sample quantiles in statistical packages",
 * The American Statistician 50(4); https://numpy.org/doc/stable/reference/generated/numpy.percentile.html
 *
 * @throws {Error} when the data are empty or p is outside [0, 1]
 * @example
 * quantileSorted([1, 2, 3, 4], 0.25); // => 1.75 (np.percentile([1, 2, 3, 4], 25))
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new Error('quantileSorted: needs at least one value');
  if (!(p >= 0 && p <= 1)) throw new Error(`quantileSorted: p must be in [0, 1], got ${p}`);
  const h = (n - 1) * p;
  const below = Math.floor(h);
  const low = sorted[below]!;
  if (below === n - 1) return low;
  const high = sorted[below + 1]!;
  // Written as a weighted sum only where it matters: equal neighbours give exactly that value.
  return low === high ? low : low + (h - below) * (high - low);
}
