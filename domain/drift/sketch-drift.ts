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
 * The search is a table over [min, max] in 32·m equal cells: cellOf is
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
  const lo = points[0]!;
  const cells = CELLS_PER_POINT * m;
  const scale = cells / (points[m - 1]! - lo);
  // Too wide a range (overflow) or a single point: one cell, i.e. a plain binary search.
  const usable = scale > 0 && scale < Number.POSITIVE_INFINITY;
  const table = usable ? cellTable(points, lo, scale, cells) : Int32Array.of(0, m);
  // slot 2j: values strictly between points[j−1] and points[j]; 2j + 1: equal to points[j]; 2m: above all.
  const slots = new Float64Array(2 * m + 1);
  // A NaN after the last point: the equality test past the end is false without reading out of bounds.
  const padded = new Float64Array(m + 1);
  padded.set(points);
  padded[m] = Number.NaN;
  const typed = column instanceof Float64Array ? column : Float64Array.from(column, (v) => v ?? Number.NaN);
  const finite = usable
    ? countByTable(typed, padded, table, lo, scale, cells, slots)
    : countByTable(typed, padded, table, lo, 0, 1, slots);
  const equal = new Float64Array(m);
  const between = new Float64Array(m + 1);
  for (let j = 0; j < m; j++) {
    between[j] = slots[2 * j]!;
    equal[j] = slots[2 * j + 1]!;
  }
  between[m] = slots[2 * m]!;
  return { equal, between, finite };
}

/**
 * Cells of the lookup table per sketch point: fine enough that most cells
 * hold no point, so a value in one needs no comparison (the table, 4 bytes a
 * cell, is 256 KB for 2,001 points: it stays in the L2 cache).
 */
const CELLS_PER_POINT = 32;

/** table[c] = the first point whose cell is ≥ c, for c = 0 … cells. */
function cellTable(points: Float64Array, lo: number, scale: number, cells: number): Int32Array {
  const table = new Int32Array(cells + 1);
  let j = 0;
  for (let c = 0; c <= cells; c++) {
    while (j < points.length && cellOf(points[j]!, lo, scale, cells) < c) j++;
    table[c] = j;
  }
  return table;
}

/**
 * The counting loop, on plain locals (a closure over a mutable counter
 * would keep it in a context object and cost several times as much). With
 * scale 0 every value falls in cell 0, whose range is all the points.
 */
function countByTable(
  column: Float64Array,
  points: Float64Array,
  table: Int32Array,
  lo: number,
  scale: number,
  cells: number,
  slots: Float64Array,
): number {
  let finite = 0;
  for (let i = 0; i < column.length; i++) {
    const v = column[i]!;
    if (v - v !== 0) continue; // NaN and ±Infinity are missing
    finite++;
    const c = cellOf(v, lo, scale, cells);
    let from = table[c]!;
    const to = table[c + 1]!;
    // A cell without a point (most of them) is one slot: no comparison at all.
    if (from !== to) from = searchFrom(points, from, to, v);
    slots[2 * from + +(points[from] === v)]!++;
  }
  return finite;
}

/** The first index in [from, to] whose point is ≥ v (the points below `from` are < v). */
function searchFrom(points: Float64Array, from: number, to: number, v: number): number {
  while (from < to) {
    const mid = (from + to) >>> 1;
    if (points[mid]! < v) from = mid + 1;
    else to = mid;
  }
  return from;
}

function cellOf(v: number, lo: number, scale: number, cells: number): number {
  const c = (v - lo) * scale;
  // c may be -Infinity / Infinity for a value far out of range; the comparisons clamp it.
  // Below 2^31 and not negative, `| 0` truncates as Math.floor does.
  return c <= 0 ? 0 : c >= cells - 1 ? cells - 1 : c | 0;
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
