import { chiSquaredHomogeneity } from './chi-squared';
import { kolmogorovSmirnovSf } from './kolmogorov';
import { ksTwoSampleSorted } from './ks';
import { type DriftPolicy, type DriftPolicyInput, driftPolicySchema } from './policy';
import { categoricalPsi, psiEdges, psiOfEdges, psiSorted } from './psi';
import type { NumericSketch, ReferenceSketch } from './reference-sketch';
import { sketchGap } from './reference-sketch';
import type { CategoricalColumn, ColumnarData, DriftFeature, MeasuredFeature, NumericColumn } from './report';
import { assembleDriftReport, categorySample, checkDriftFeatures, type DriftReport } from './report';
import { finiteSorted } from './sample';

/**
 * The drift report's per-feature statistics against a reference sketch
 * (./reference-sketch) instead of the reference data. The current batch is
 * read as it is; a numeric column is not sorted but counted into the sketch's
 * points (a table lookup and a short search per value), which is O(n) and is
 * what lets a million-row, thousand-column batch be checked in a minute.
 */

/**
 * Whether the sketch can stand in for the reference data for these features
 * under this policy: every feature is sketched with its kind, and for a
 * numeric feature sketched by quantiles policy.bins divides the sketch's
 * resolution and the edges it needs are finite (so PSI is exact). When it
 * cannot, the caller reads the reference data.
 *
 * @example
 * sketchServes(sketch, [{ name: 'age', kind: 'numeric' }], parseDriftPolicy({})); // => true
 */
export function sketchServes(
  sketch: ReferenceSketch,
  features: readonly DriftFeature[],
  policy: DriftPolicy,
): boolean {
  return features.every((feature) => {
    const s = sketch.features.get(feature.name);
    if (s === undefined || s.kind !== feature.kind) return false;
    if (s.kind === 'categorical' || s.sorted.length > 0) return true;
    if (sketch.resolution % policy.bins !== 0) return false;
    return psiEdgesOf(s, policy.bins, sketch.resolution).every((e) => Number.isFinite(e));
  });
}

/**
 * One feature's statistics, the current column against the reference's
 * sketch: the same fields as `measureFeature`, plus, for a numeric feature
 * sketched by quantiles, `statisticUpperBound` (the exact KS D lies between
 * `statistic` and it).
 *
 * @throws {Error} `driftReport: ...` as `measureFeature` does for a missing
 * or wrong-kind current column or one without values
 */
export function measureFeatureAgainstSketch(
  feature: DriftFeature,
  sketch: ReferenceSketch,
  current: ColumnarData,
  policy: DriftPolicy,
): MeasuredFeature {
  const s = sketch.features.get(feature.name);
  if (s === undefined || s.kind !== feature.kind)
    throw new Error(`driftReport: the reference sketch has no ${feature.kind} feature '${feature.name}'`);
  const values = Object.hasOwn(current, feature.name) ? current[feature.name] : undefined;
  if (values === undefined) throw new Error(`driftReport: current has no column '${feature.name}'`);
  if (s.kind === 'categorical') {
    // The counts are all that PSI and chi-squared use: the same computation as measureFeature's.
    const b = categorySample(values, 'current', feature.name);
    const p = categoricalPsi(s.counts, b.counts, { epsilon: policy.epsilon });
    const chi = chiSquaredHomogeneity(s.counts, b.counts);
    let referenceCount = 0;
    for (const c of s.counts.values()) referenceCount += c;
    return {
      name: feature.name,
      kind: 'categorical',
      test: 'chi2',
      psi: p.psi,
      statistic: chi.statistic,
      dof: chi.dof,
      pValue: chi.pValue,
      categories: p.categories,
      unseen: p.categories
        .filter((c) => !s.counts.has(c.category))
        .map((c) => ({ category: c.category, curShare: c.curShare })),
      reference: { count: referenceCount, missing: s.missing },
      current: { count: values.length - b.missing, missing: b.missing },
    };
  }
  const column = numericColumn(values, feature.name);
  if (s.sorted.length > 0) return exactNumeric(feature.name, s, column, policy);
  return sketchedNumeric(feature.name, s, column, policy, sketch.resolution);
}

function numericColumn(values: NumericColumn | CategoricalColumn, name: string): NumericColumn {
  if (values instanceof Float64Array) return values;
  const i = values.findIndex((v) => v !== null && typeof v !== 'number');
  if (i >= 0) {
    throw new Error(
      `driftReport: current column '${name}' is numeric but row ${i} holds ${JSON.stringify(values[i])}`,
    );
  }
  return values as NumericColumn;
}

/** A sketch holding the whole sample: exactly `measureFeature`'s computation. */
function exactNumeric(name: string, s: NumericSketch, column: NumericColumn, policy: DriftPolicy) {
  const a = { sorted: s.sorted, missing: s.missing };
  const b = finiteSorted(column);
  if (b.sorted.length === 0) throw new Error(`driftReport: current column '${name}' has no finite values`);
  const p = psiSorted(a, b, { bins: policy.bins, epsilon: policy.epsilon });
  const ks = ksTwoSampleSorted(a, b);
  return {
    name,
    kind: 'numeric' as const,
    test: 'ks' as const,
    psi: p.psi,
    statistic: ks.statistic,
    pValue: ks.pValue,
    ksMethod: ks.method,
    bins: p.bins,
    reference: p.reference,
    current: p.current,
  };
}

function psiEdgesOf(s: NumericSketch, bins: number, resolution: number): number[] {
  return psiEdges(bins, (p) => s.quantiles[Math.round(p * resolution)]!);
}

/**
 * Counts the current column into the sketch's points, then PSI on the
 * sketch's edges (exact) and KS at the points (a lower bound within the gap).
 */
function sketchedNumeric(
  name: string,
  s: NumericSketch,
  column: NumericColumn,
  policy: DriftPolicy,
  resolution: number,
) {
  const counts = countIntoPoints(s.points, column);
  const m = s.points.length;
  // Cumulative counts of the current sample: below[j] = #(< points[j]), atMost[j] = #(≤ points[j]).
  const curBelow = new Float64Array(m);
  const curAtMost = new Float64Array(m);
  let running = 0;
  for (let j = 0; j < m; j++) {
    running += counts.between[j]!;
    curBelow[j] = running;
    running += counts.equal[j]!;
    curAtMost[j] = running;
  }
  const n2 = counts.finite;
  if (n2 === 0) throw new Error(`driftReport: current column '${name}' has no finite values`);
  const n1 = s.count;
  const current = { count: n2, missing: column.length - n2 };
  const pointIndex = (x: number) => {
    const j = lowerBound(s.points, x);
    if (s.points[j] !== x) throw new Error(`sketchedNumeric: edge ${x} is not a sketch point`);
    return j;
  };
  const p = psiOfEdges(
    psiEdgesOf(s, policy.bins, resolution),
    { count: n1, missing: s.missing, atMost: (x) => s.atMost[pointIndex(x)]! },
    { ...current, atMost: (x) => curAtMost[pointIndex(x)]! },
    policy.epsilon,
  );
  // The same expression as the exact walk (|i/n1 − j/n2|), at each point and just below it.
  let d = 0;
  for (let j = 0; j < m; j++) {
    const at = Math.abs(s.atMost[j]! / n1 - curAtMost[j]! / n2);
    const before = Math.abs(s.below[j]! / n1 - curBelow[j]! / n2);
    d = Math.max(d, at, before);
  }
  const [big, small] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const en = roundHalfEven((big * small) / (big + small));
  return {
    name,
    kind: 'numeric' as const,
    test: 'ks' as const,
    psi: p.psi,
    statistic: d,
    statisticUpperBound: Math.min(1, d + sketchGap(s)),
    pValue: kolmogorovSmirnovSf(en, d),
    ksMethod: 'asymptotic' as const,
    bins: p.bins,
    reference: p.reference,
    current,
  };
}

/**
 * Per point j: the current values equal to points[j] and those strictly
 * between points[j−1] and points[j] (j = m: above the last point).
 *
 * The search is a table over [min, max] in 8·m equal cells: cellOf is
 * monotone in the value (subtraction of a constant, scaling by a positive
 * one and truncation all keep order), so a value's lower bound among the
 * points lies between the first point of its cell and the first point of the
 * next; a short binary search between them finds it. Out-of-range values are
 * clamped to the end cells, which keeps that true.
 */
export function countIntoPoints(
  points: Float64Array,
  column: NumericColumn,
): { equal: Float64Array; between: Float64Array; finite: number } {
  const m = points.length;
  const equal = new Float64Array(m);
  const between = new Float64Array(m + 1);
  const lo = points[0]!;
  const cells = 8 * m;
  const scale = cells / (points[m - 1]! - lo);
  const usable = scale > 0 && scale < Number.POSITIVE_INFINITY;
  const firstOfCell = new Int32Array(cells + 1);
  if (usable) {
    let j = 0;
    for (let c = 0; c <= cells; c++) {
      while (j < m && cellOf(points[j]!, lo, scale, cells) < c) j++;
      firstOfCell[c] = j;
    }
  }
  let finite = 0;
  const count = (v: number) => {
    let from = 0;
    let to = m;
    if (usable) {
      const c = cellOf(v, lo, scale, cells);
      from = firstOfCell[c]!;
      to = firstOfCell[c + 1]!;
    }
    while (from < to) {
      const mid = (from + to) >>> 1;
      if (points[mid]! < v) from = mid + 1;
      else to = mid;
    }
    if (from < m && points[from] === v) equal[from]!++;
    else between[from]!++;
  };
  if (column instanceof Float64Array) {
    for (let i = 0; i < column.length; i++) {
      const v = column[i]!;
      if (v - v !== 0) continue; // NaN and ±Infinity are missing
      finite++;
      count(v);
    }
  } else {
    for (const v of column) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      finite++;
      count(v);
    }
  }
  return { equal, between, finite };
}

function cellOf(v: number, lo: number, scale: number, cells: number): number {
  const c = (v - lo) * scale;
  // c may be -Infinity / Infinity for a value far out of range; the comparisons clamp it.
  return c <= 0 ? 0 : c >= cells ? cells - 1 : Math.floor(c);
}

function lowerBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** numpy's `np.round`: halves go to the even neighbour (as in ./ks). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `driftReport` with the reference given by its sketch: the same checks, the
 * same correction and verdict, each feature measured against its sketch.
 *
 * @throws {Error} as `driftReport` does, and when a feature is not in the sketch
 */
export function driftReportAgainstSketch(input: {
  readonly sketch: ReferenceSketch;
  readonly current: ColumnarData;
  readonly features: readonly DriftFeature[];
  readonly policy?: DriftPolicyInput;
}): DriftReport {
  const policy = driftPolicySchema.parse(input.policy ?? {});
  checkDriftFeatures(input.features);
  const measured = input.features.map((f) =>
    measureFeatureAgainstSketch(f, input.sketch, input.current, policy),
  );
  return assembleDriftReport(measured, policy);
}
