import { statisticsAtPoints } from './counted';
import { ksTwoSampleSorted } from './ks';
import { type DriftPolicy, type DriftPolicyInput, driftPolicySchema } from './policy';
import { psiEdges, psiSorted } from './psi';
import type { NumericSketch, ReferenceSketch } from './reference-sketch';
import { sketchGap } from './reference-sketch';
import type { CategoricalColumn, ColumnarData, DriftFeature, MeasuredFeature, NumericColumn } from './report';
import { assembleDriftReport, categoricalDrift, checkDriftFeatures, type DriftReport } from './report';
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
    return categoricalDrift(feature.name, s, values, policy);
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
  const at = statisticsAtPoints(s, column, psiEdgesOf(s, policy.bins, resolution), policy.epsilon, name);
  return {
    name,
    kind: 'numeric' as const,
    test: 'ks' as const,
    psi: at.psi.psi,
    statistic: at.statistic,
    statisticUpperBound: Math.min(1, at.statistic + sketchGap(s)),
    pValue: at.pValue,
    ksMethod: 'asymptotic' as const,
    bins: at.psi.bins,
    reference: at.psi.reference,
    current: at.psi.current,
  };
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
