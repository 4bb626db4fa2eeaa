import { adjustPValues } from './multiple-testing';
import type { DriftPolicy } from './policy';

/** One feature as a drift monitor reports it: a PSI, a test's p-value, or both. */
export interface MonitorFeature {
  readonly name: string;
  readonly psi?: number;
  readonly pValue?: number;
}

export interface MonitorFeatureVerdict extends MonitorFeature {
  readonly adjustedPValue: number | null;
  readonly drifted: boolean;
  readonly reasons: readonly string[];
}

/**
 * Applies ctloop's drift policy to statistics a monitor computed: the same
 * rule as `driftReport` (PSI > psiThreshold OR adjusted p < pValue, then a
 * minimum share of drifted features), with the p-values the monitor sent
 * adjusted together. The monitor's own drift flags are not trusted: the
 * model's policy decides.
 *
 * @throws {Error} when no feature is given or a feature has neither statistic
 * @example
 * monitorVerdict([{ name: 'age', psi: 0.31 }, { name: 'plan', pValue: 0.4 }], parseDriftPolicy({})).drifted;
 * // => true (1 of 2 features ≥ 30 %)
 */
export function monitorVerdict(
  features: readonly MonitorFeature[],
  policy: DriftPolicy,
): { drifted: boolean; share: number; reasons: string[]; features: MonitorFeatureVerdict[] } {
  if (features.length === 0) throw new Error('monitorVerdict: a report needs at least one feature');
  for (const f of features) {
    if (f.psi === undefined && f.pValue === undefined) {
      throw new Error(`monitorVerdict: feature ${f.name} has neither psi nor pValue`);
    }
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
      reasons.push(`${f.name}: PSI ${f.psi} > ${policy.psiThreshold}`);
    const adj = adjustedByName.get(f.name) ?? null;
    if (adj !== null && adj < policy.pValue)
      reasons.push(`${f.name}: adjusted p ${adj.toPrecision(3)} < ${policy.pValue}`);
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
