import { type CategoryCounts, countCategories } from './chi-squared';
import { KS_EXACT_MAX_N } from './ks';
import { quantileType7 } from './psi';
import type { ColumnarData, DriftFeature, NumericColumn } from './report';
import { countAtMost, countBelow, finiteSorted, type SortedSample } from './sample';

/**
 * A reference sketch: what the drift report needs of a version's training
 * data, computed once when the version is trained, so that a drift report
 * reads a few kilobytes per feature instead of the whole reference file and
 * never sorts it again.
 *
 * Per numeric feature:
 * - `count`, `missing`, `mean`, `min`, `max` of the finite values (null, NaN
 *   and ±Infinity are missing, as in `finiteSorted`);
 * - when there are at most KS_EXACT_MAX_N (10,000) finite values: the whole
 *   sorted sample, so the report is the exact one (and KS keeps SciPy's exact
 *   p-value path, which is only taken below that size);
 * - otherwise the R type 7 quantiles at k / SKETCH_RESOLUTION, k = 0 … K
 *   (the very values `psi` takes its edges from, computed by the same
 *   function), and at every distinct finite one of them, and at min and max,
 *   the exact number of reference values below it and at most it.
 *
 * What the drift report computes from it (./sketch-drift), and how close:
 * - PSI: bit for bit the exact value when policy.bins divides K (2,000; the
 *   default 10 does): the edges are stored quantiles and both sides' counts
 *   at an edge are exact. Other bin counts are not served by the sketch.
 * - KS: the statistic is evaluated at the sketch's points (just below and at
 *   each), where both empirical CDFs are known exactly; it is a lower bound of
 *   the exact D, and the exact D is at most that plus the largest reference
 *   share strictly between two neighbouring points (≤ 1/K + 2/n: 5e-4 plus a
 *   hair), which the report gives per feature as `statisticUpperBound`. The
 *   p-value is the asymptotic one of that D (the exact path needs n ≤ 10,000,
 *   where the sketch is the sample itself).
 *
 * Per categorical feature: the category counts, which is all that PSI and
 * chi-squared use, so both are exact.
 */

/** Quantile points per numeric feature (K): the KS statistic is within ≈ 1/K of the exact one. */
export const SKETCH_RESOLUTION = 2000;

export interface NumericSketch {
  readonly kind: 'numeric';
  readonly count: number;
  readonly missing: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** The whole sorted finite sample, when count ≤ KS_EXACT_MAX_N; then the other arrays are empty. */
  readonly sorted: Float64Array;
  /** Type 7 quantiles at k / K, k = 0 … K (K + 1 values; empty with `sorted`). */
  readonly quantiles: Float64Array;
  /** The distinct finite values among min, the quantiles and max, ascending. */
  readonly points: Float64Array;
  /** Reference values < points[j]. */
  readonly below: Float64Array;
  /** Reference values ≤ points[j]. */
  readonly atMost: Float64Array;
}

export interface CategoricalSketch {
  readonly kind: 'categorical';
  readonly counts: ReadonlyMap<string, number>;
  readonly missing: number;
}

export type FeatureSketch = NumericSketch | CategoricalSketch;

export interface ReferenceSketch {
  /** K of the numeric features' quantiles. */
  readonly resolution: number;
  readonly features: ReadonlyMap<string, FeatureSketch>;
}

/**
 * The sketch of one numeric column.
 *
 * @throws {Error} `numericSketch: ...` when the column has no finite value
 * @example
 * numericSketch(Float64Array.of(3, 1, Number.NaN, 2)).sorted; // => Float64Array [1, 2, 3]
 */
export function numericSketch(
  values: Float64Array | readonly (number | null)[],
  resolution = SKETCH_RESOLUTION,
): NumericSketch {
  return numericSketchOfSorted(finiteSorted(values), resolution);
}

/** `numericSketch` of a sample already filtered and sorted by `finiteSorted`. */
export function numericSketchOfSorted(sample: SortedSample, resolution = SKETCH_RESOLUTION): NumericSketch {
  const x = sample.sorted;
  const n = x.length;
  if (n === 0) throw new Error('numericSketch: the column has no finite values');
  if (!Number.isInteger(resolution) || resolution < 2)
    throw new Error(`numericSketch: resolution must be an integer ≥ 2, got ${resolution}`);
  // Kahan–Neumaier sum: the mean of a million values keeps its last digits.
  let sum = 0;
  let compensation = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const t = sum + v;
    compensation += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  const common = {
    kind: 'numeric' as const,
    count: n,
    missing: sample.missing,
    mean: (sum + compensation) / n,
    min: x[0]!,
    max: x[n - 1]!,
  };
  const empty = new Float64Array(0);
  if (n <= KS_EXACT_MAX_N) {
    return { ...common, sorted: x, quantiles: empty, points: empty, below: empty, atMost: empty };
  }
  // k / K is the same double as i / bins whenever k = i·K/bins (both are the correctly rounded
  // quotient of one rational), so these are bit for bit the edges `psi` would compute.
  const quantiles = Float64Array.from({ length: resolution + 1 }, (_, k) => quantileType7(x, k / resolution));
  const candidates = [common.min, ...quantiles, common.max].filter((v) => Number.isFinite(v));
  candidates.sort((a, b) => a - b);
  const points = Float64Array.from(candidates.filter((v, i) => i === 0 || v !== candidates[i - 1]));
  const below = points.map((p) => countBelow(x, p));
  const atMost = points.map((p) => countAtMost(x, p));
  return { ...common, sorted: empty, quantiles, points, below, atMost };
}

/**
 * The sketch of one categorical column: its category counts.
 *
 * @example
 * categoricalSketch(['a', null, 'a', 'b']).counts; // => Map { 'a' => 2, 'b' => 1 }
 */
export function categoricalSketch(values: readonly (string | null)[]): CategoricalSketch {
  const c: CategoryCounts = countCategories(values);
  return { kind: 'categorical', counts: c.counts, missing: c.missing };
}

/**
 * The largest reference share strictly between two neighbouring points: how
 * far the sketch's KS statistic can be below the exact one (0 for a sketch
 * holding the whole sample).
 */
export function sketchGap(sketch: NumericSketch): number {
  let gap = 0;
  for (let j = 0; j + 1 < sketch.points.length; j++) {
    gap = Math.max(gap, sketch.below[j + 1]! - sketch.atMost[j]!);
  }
  return gap / sketch.count;
}

/**
 * The sketch of a dataset's drift features (columns as `csvColumns` /
 * `parquetColumns` give them).
 *
 * @throws {Error} `referenceSketch: ...` when a column is absent or holds the
 * wrong kind of values, or has no (finite) value
 */
export function referenceSketch(
  columns: ColumnarData,
  features: readonly DriftFeature[],
  resolution = SKETCH_RESOLUTION,
): ReferenceSketch {
  const out = new Map<string, FeatureSketch>();
  for (const f of features) {
    const values = Object.hasOwn(columns, f.name) ? columns[f.name] : undefined;
    if (values === undefined) throw new Error(`referenceSketch: the data has no column '${f.name}'`);
    const numeric =
      values instanceof Float64Array || values.every((v) => v === null || typeof v === 'number');
    if (f.kind === 'numeric') {
      if (!numeric) throw new Error(`referenceSketch: column '${f.name}' is numeric but holds text`);
      const sample = finiteSorted(values as NumericColumn);
      if (sample.sorted.length === 0)
        throw new Error(`referenceSketch: column '${f.name}' has no finite values`);
      out.set(f.name, numericSketchOfSorted(sample, resolution));
    } else {
      if (values instanceof Float64Array || !values.every((v) => v === null || typeof v === 'string'))
        throw new Error(`referenceSketch: column '${f.name}' is categorical but holds numbers`);
      const sketch = categoricalSketch(values as readonly (string | null)[]);
      if (sketch.counts.size === 0) throw new Error(`referenceSketch: column '${f.name}' has no values`);
      out.set(f.name, sketch);
    }
  }
  return { resolution, features: out };
}
