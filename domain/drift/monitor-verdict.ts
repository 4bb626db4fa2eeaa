import { adjustPValues } from './multiple-testing';
import type { DriftPolicy } from './policy';

/**
 * One feature as a drift monitor reports it: a PSI, a test's p-value, a
 * distance, or several of them.
 */
export interface MonitorFeature {
  readonly name: string;
  readonly psi?: number;
  readonly pValue?: number;
  /**
   * A statistic the drift policy has no threshold for (Evidently's normed
   * Wasserstein distance, Jensen–Shannon distance, ...): it counts as drifted
   * at or above the monitor's own threshold for it, as the monitor decided.
   */
  readonly distance?: { readonly method: string; readonly value: number; readonly threshold: number };
  /** The monitor's name for the test(s) behind these numbers, e.g. Evidently's "K-S p_value". */
  readonly stattest?: string;
  /** The monitor's own drift flag: kept for the record, never used for the verdict. */
  readonly monitorDrifted?: boolean;
}

export interface MonitorFeatureVerdict extends MonitorFeature {
  readonly adjustedPValue: number | null;
  readonly drifted: boolean;
  readonly reasons: readonly string[];
}

export interface MonitorVerdict {
  readonly drifted: boolean;
  readonly share: number;
  readonly reasons: string[];
  readonly features: MonitorFeatureVerdict[];
}

/**
 * Applies ctloop's drift policy to statistics a monitor computed: the same
 * rule as `driftReport` (PSI > psiThreshold OR adjusted p < pValue, then a
 * minimum share of drifted features), with the p-values the monitor sent
 * adjusted together. The monitor's own drift flags are not trusted: the
 * model's policy decides. A distance the policy has no threshold for is the
 * exception: it is judged against the threshold the monitor sent with it.
 *
 * @throws {Error} when no feature is given, a name repeats, or a feature has no statistic
 * @example
 * monitorVerdict([{ name: 'age', psi: 0.31 }, { name: 'plan', pValue: 0.4 }], parseDriftPolicy({})).drifted;
 * // => true (1 of 2 features ≥ 30 %)
 */
export function monitorVerdict(features: readonly MonitorFeature[], policy: DriftPolicy): MonitorVerdict {
  if (features.length === 0) throw new Error('monitorVerdict: a report needs at least one feature');
  const names = new Set<string>();
  for (const f of features) {
    if (f.psi === undefined && f.pValue === undefined && f.distance === undefined) {
      throw new Error(`monitorVerdict: feature ${f.name} has neither psi nor pValue (nor a distance)`);
    }
    if (names.has(f.name)) throw new Error(`monitorVerdict: feature ${f.name} appears more than once`);
    names.add(f.name);
  }
  const tested = features.filter((f) => f.pValue !== undefined);
  const adjusted = tested.length
    ? adjustPValues(
        tested.map((f) => f.pValue!),
        policy.correction,
        policy.pValue,
      ).adjusted
    : [];
  const adjustedByName = new Map(tested.map((f, i) => [f.name, adjusted[i]!]));
  const verdicts = features.map((f): MonitorFeatureVerdict => {
    const reasons: string[] = [];
    if (f.psi !== undefined && f.psi > policy.psiThreshold)
      reasons.push(`${f.name}: PSI ${fmt(f.psi)} > ${policy.psiThreshold}`);
    const adj = adjustedByName.get(f.name) ?? null;
    if (adj !== null && adj < policy.pValue)
      reasons.push(`${f.name}: adjusted p ${adj.toPrecision(3)} < ${policy.pValue}`);
    if (f.distance !== undefined && f.distance.value >= f.distance.threshold) {
      reasons.push(
        `${f.name}: ${f.distance.method} ${fmt(f.distance.value)} ≥ ${f.distance.threshold} (the monitor's threshold)`,
      );
    }
    return { ...f, adjustedPValue: adj, drifted: reasons.length > 0, reasons };
  });
  const drifted = verdicts.filter((v) => v.drifted);
  const share = drifted.length / verdicts.length;
  const retrain = share >= policy.minDriftedShare;
  const summary = `${drifted.length} of ${verdicts.length} features drifted (${(share * 100).toFixed(0)}% ${retrain ? '≥' : '<'} ${(policy.minDriftedShare * 100).toFixed(0)}%)`;
  return {
    drifted: retrain,
    share,
    reasons: [summary, ...drifted.flatMap((v) => v.reasons)],
    features: verdicts,
  };
}

function fmt(x: number): string {
  return Number(x.toPrecision(3)).toString();
}
