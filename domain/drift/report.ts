import { bucketedDrift } from './bucketed';
import { type CategoryCounts, chiSquaredHomogeneity, countCategories } from './chi-squared';
import { ksTwoSampleSorted } from './ks';
import { adjustPValues } from './multiple-testing';
import { type DriftPolicy, type DriftPolicyInput, driftPolicySchema } from './policy';
import { type CategoryShare, categoricalPsi, type PsiBin, psiSorted } from './psi';
import { finiteSorted, type SortedSample } from './sample';

/**
 * The drift report: the current batch against the champion's training
 * reference, feature by feature, and one verdict for the retrain trigger.
 *
 * Per feature: a numeric feature gets PSI on reference-quantile bins and a
 * two-sample KS test; a categorical one gets PSI over its categories and a
 * chi-squared test of homogeneity. The p-values of all features form one
 * family and are adjusted together (policy.correction). A feature drifts when
 * PSI > psiThreshold OR adjusted p < pValue: PSI catches a shift large enough
 * to matter even where a test lacks power, the test catches a significant
 * change the bins blur. With hundreds of thousands of rows the tests are very
 * sensitive, which is why a shift must also be shared by minDriftedShare of
 * the features before the verdict says "retrain".
 */

/** A numeric column: a typed array, or numbers with null for a missing cell (NaN is missing too). */
export type NumericColumn = Float64Array | readonly (number | null)[];
/** A categorical column: category labels, null for a missing cell. */
export type CategoricalColumn = readonly (string | null)[];
/**
 * Data by column name. Columnar, because every statistic here works on one
 * column at a time and a Float64Array column costs 8 bytes a row, sorts
 * natively and needs no parsing; columns may differ in length between the
 * reference and the current batch, and extra columns are ignored.
 */
export type ColumnarData = Readonly<Record<string, NumericColumn | CategoricalColumn>>;

export interface DriftFeature {
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
}

interface FeatureDriftBase {
  readonly name: string;
  readonly drifted: boolean;
  /** Why it drifted: the criteria it met, e.g. "PSI 0.312 > 0.2"; empty when it did not. */
  readonly reasons: readonly string[];
  readonly psi: number;
  readonly pValue: number;
  /** The p-value after the policy's correction across all features of the report. */
  readonly adjustedPValue: number;
  readonly reference: { readonly count: number; readonly missing: number };
  readonly current: { readonly count: number; readonly missing: number };
}

export interface NumericFeatureDrift extends FeatureDriftBase {
  readonly kind: 'numeric';
  readonly test: 'ks';
  /** The KS statistic D. */
  readonly statistic: number;
  readonly ksMethod: 'exact' | 'asymptotic';
  /**
   * Present when the reference was a quantile sketch (./reference-sketch):
   * `statistic` is then a lower bound of the exact D, which is at most this.
   */
  readonly statisticUpperBound?: number;
  readonly bins: readonly PsiBin[];
}

export interface CategoricalFeatureDrift extends FeatureDriftBase {
  readonly kind: 'categorical';
  readonly test: 'chi2';
  /** Pearson's chi-squared statistic. */
  readonly statistic: number;
  readonly dof: number;
  readonly categories: readonly CategoryShare[];
  /**
   * Categories the current batch has and the reference never had, with their
   * share of the batch. They are not dropped: chi-squared counts each as a
   * column with 0 in the reference row (its expected count is still > 0, so
   * no smoothing is needed) and PSI floors its reference share at epsilon, so
   * a new category taking a visible share of the batch is drift by both.
   */
  readonly unseen: readonly { readonly category: string; readonly curShare: number }[];
}

export type FeatureDrift = NumericFeatureDrift | CategoricalFeatureDrift;

export interface DriftVerdict {
  /** True when share ≥ policy.minDriftedShare: the batch warrants a retrain. */
  readonly drifted: boolean;
  /** Drifted features / all features. */
  readonly share: number;
  readonly reasons: readonly string[];
}

export interface DriftReport {
  readonly features: readonly FeatureDrift[];
  readonly verdict: DriftVerdict;
  readonly policy: DriftPolicy;
  /** Present when the reference was the version's sketch (./reference-sketch) rather than its data. */
  readonly referenceSketch?: { readonly uri: string; readonly resolution: number };
}

export interface DriftReportInput {
  readonly reference: ColumnarData;
  readonly current: ColumnarData;
  readonly features: readonly DriftFeature[];
  /** Parsed with driftPolicySchema; omitted fields take their defaults. */
  readonly policy?: DriftPolicyInput;
}

/**
 * Compares the current batch with the reference, feature by feature.
 *
 * @throws {Error} `driftReport: ...` when there are no features, a name
 * repeats, a column is absent or holds the wrong kind of values, or a side has
 * no non-missing value for a feature; a ZodError for a bad policy
 * @example
 * const report = driftReport({
 *   reference: { age: Float64Array.of(20, 30, 40, 50), plan: ['a', 'b', 'a', 'b'] },
 *   current: { age: Float64Array.of(60, 70, 80, 90), plan: ['a', 'b', 'b', 'a'] },
 *   features: [{ name: 'age', kind: 'numeric' }, { name: 'plan', kind: 'categorical' }],
 * });
 * report.verdict;
 * // => { drifted: true, share: 0.5, reasons: ['1 of 2 features drifted (50% ≥ 30%)', 'age: PSI 6.91 > 0.2'] }
 */
export function driftReport(input: DriftReportInput): DriftReport {
  const policy = driftPolicySchema.parse(input.policy ?? {});
  checkDriftFeatures(input.features);
  const measured = input.features.map((feature) => measureFeature(feature, input, policy));
  return assembleDriftReport(measured, policy);
}

/**
 * The per-feature half of `driftReport` and the whole-report half, apart, so
 * that the features can be measured on several threads (compute/drift-threads)
 * and joined into the very report one thread would give: the p-value
 * correction and the verdict need every feature, the rest needs one.
 */
export type MeasuredFeature =
  | Omit<NumericFeatureDrift, 'drifted' | 'reasons' | 'adjustedPValue'>
  | Omit<CategoricalFeatureDrift, 'drifted' | 'reasons' | 'adjustedPValue'>;

/** The checks `driftReport` makes on its feature list before measuring anything. */
export function checkDriftFeatures(features: readonly DriftFeature[]): void {
  if (features.length === 0) throw new Error('driftReport: features must not be empty');
  const seen = new Set<string>();
  for (const f of features) {
    if (seen.has(f.name)) throw new Error(`driftReport: feature '${f.name}' appears more than once`);
    if (f.kind !== 'numeric' && f.kind !== 'categorical') {
      throw new Error(
        `driftReport: feature '${f.name}' has kind '${f.kind}', expected 'numeric' or 'categorical'`,
      );
    }
    seen.add(f.name);
  }
}

/** The report from its measured features (in feature order) and the parsed policy. */
export function assembleDriftReport(measured: readonly MeasuredFeature[], policy: DriftPolicy): DriftReport {
  const { adjusted } = adjustPValues(
    measured.map((m) => m.pValue),
    policy.correction,
    policy.pValue,
  );
  const results = measured.map((m, i): FeatureDrift => {
    const adjustedPValue = adjusted[i]!;
    const reasons: string[] = [];
    if (m.psi > policy.psiThreshold) reasons.push(`PSI ${fmt(m.psi)} > ${policy.psiThreshold}`);
    if (adjustedPValue < policy.pValue) {
      const test =
        m.kind === 'numeric' ? `KS D ${fmt(m.statistic)}` : `chi² ${fmt(m.statistic)} (dof ${m.dof})`;
      const how =
        policy.correction === 'none' ? 'p' : `${policy.correction === 'bh' ? 'BH' : 'Bonferroni'}-adjusted p`;
      reasons.push(`${test}, ${how} ${fmt(adjustedPValue)} < ${policy.pValue}`);
    }
    if (m.kind === 'categorical' && m.unseen.length > 0 && reasons.length > 0) {
      const list = m.unseen.map((u) => `'${u.category}' ${pct(u.curShare)}`).join(', ');
      reasons.push(`categories not in the reference: ${list}`);
    }
    return { ...m, adjustedPValue, drifted: reasons.length > 0, reasons } as FeatureDrift;
  });
  return { features: results, verdict: verdictOf(results, policy), policy };
}

/** One feature's statistics: PSI and KS for a numeric one, PSI and chi-squared for a categorical one. */
export function measureFeature(
  feature: DriftFeature,
  data: { readonly reference: ColumnarData; readonly current: ColumnarData },
  policy: DriftPolicy,
): MeasuredFeature {
  const ref = column(data.reference, 'reference', feature);
  const cur = column(data.current, 'current', feature);
  if (feature.kind === 'numeric') {
    const options = { bins: policy.bins, epsilon: policy.epsilon };
    const { psi: p, ks } =
      (ref instanceof Float64Array &&
        cur instanceof Float64Array &&
        Math.min(ref.length, cur.length) >= BUCKETED_MIN_VALUES &&
        bucketedDrift(ref, cur, options)) ||
      sortedDrift(ref, cur, feature.name, options);
    return {
      name: feature.name,
      kind: 'numeric',
      test: 'ks',
      psi: p.psi,
      statistic: ks.statistic,
      pValue: ks.pValue,
      ksMethod: ks.method,
      bins: p.bins,
      reference: p.reference,
      current: p.current,
    };
  }
  const a = categorySample(ref, 'reference', feature.name);
  return categoricalDrift(feature.name, a, cur, policy);
}

/**
 * From this many values a side, a numeric feature is measured by counting
 * into buckets (./bucketed) rather than by sorting: same results; below it,
 * sorting is as fast and simpler.
 */
const BUCKETED_MIN_VALUES = 4096;

function sortedDrift(
  ref: NumericColumn | CategoricalColumn,
  cur: NumericColumn | CategoricalColumn,
  name: string,
  options: { bins: number; epsilon: number },
) {
  const a = numericSample(ref, 'reference', name);
  const b = numericSample(cur, 'current', name);
  return { psi: psiSorted(a, b, options), ks: ksTwoSampleSorted(a, b) };
}

function column(data: ColumnarData, side: string, feature: DriftFeature): NumericColumn | CategoricalColumn {
  const values = Object.hasOwn(data, feature.name) ? data[feature.name] : undefined;
  if (values === undefined) throw new Error(`driftReport: ${side} has no column '${feature.name}'`);
  return values;
}

function numericSample(values: NumericColumn | CategoricalColumn, side: string, name: string): SortedSample {
  if (!(values instanceof Float64Array)) {
    const i = values.findIndex((v) => v !== null && typeof v !== 'number');
    if (i >= 0) {
      throw new Error(
        `driftReport: ${side} column '${name}' is numeric but row ${i} holds ${JSON.stringify(values[i])}`,
      );
    }
  }
  const sample = finiteSorted(values as NumericColumn);
  if (sample.sorted.length === 0)
    throw new Error(`driftReport: ${side} column '${name}' has no finite values`);
  return sample;
}

/** A categorical column's counts, checked as `driftReport` checks it. */
export function categorySample(
  values: NumericColumn | CategoricalColumn,
  side: string,
  name: string,
): CategoryCounts {
  if (values instanceof Float64Array) {
    throw new Error(`driftReport: ${side} column '${name}' is categorical but is a Float64Array`);
  }
  const i = values.findIndex((v) => v !== null && typeof v !== 'string');
  if (i >= 0) {
    throw new Error(
      `driftReport: ${side} column '${name}' is categorical but row ${i} holds ${String(values[i])}`,
    );
  }
  const counts = countCategories(values as CategoricalColumn);
  if (counts.counts.size === 0)
    throw new Error(`driftReport: ${side} column '${name}' has no non-null values`);
  return counts;
}

function verdictOf(results: readonly FeatureDrift[], policy: DriftPolicy): DriftVerdict {
  const drifted = results.filter((r) => r.drifted);
  const share = drifted.length / results.length;
  const retrain = share >= policy.minDriftedShare;
  const head = `${drifted.length} of ${results.length} features drifted (${pct(share)} ${retrain ? '≥' : '<'} ${pct(policy.minDriftedShare)})`;
  return {
    drifted: retrain,
    share,
    reasons: [head, ...drifted.map((r) => `${r.name}: ${r.reasons.join('; ')}`)],
  };
}

function fmt(x: number): string {
  return x === 0 || (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4)
    ? String(Number(x.toPrecision(3)))
    : x.toExponential(2);
}

function pct(share: number): string {
  return `${Number((share * 100).toFixed(1))}%`;
}

/**
 * A categorical feature's drift from the reference's category counts (from
 * its data, or from a stored sketch) and the current batch's values: PSI
 * over the categories and the chi-squared test of homogeneity.
 */
export function categoricalDrift(
  name: string,
  reference: { counts: ReadonlyMap<string, number>; missing: number },
  cur: NumericColumn | CategoricalColumn,
  policy: DriftPolicy,
): Omit<CategoricalFeatureDrift, 'drifted' | 'reasons' | 'adjustedPValue'> {
  const b = categorySample(cur, 'current', name);
  let referenceCount = 0;
  for (const c of reference.counts.values()) referenceCount += c;
  const p = categoricalPsi(reference.counts, b.counts, { epsilon: policy.epsilon });
  const chi = chiSquaredHomogeneity(reference.counts, b.counts);
  return {
    name,
    kind: 'categorical',
    test: 'chi2',
    psi: p.psi,
    statistic: chi.statistic,
    dof: chi.dof,
    pValue: chi.pValue,
    categories: p.categories,
    unseen: p.categories
      .filter((c) => !reference.counts.has(c.category))
      .map((c) => ({ category: c.category, curShare: c.curShare })),
    reference: { count: referenceCount, missing: reference.missing },
    current: { count: cur.length - b.missing, missing: b.missing },
  };
}
