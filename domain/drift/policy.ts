import { z } from 'zod';
import { inRange, share } from '../policy-bounds';

/**
 * When a batch of current data counts as drifted from the champion's training
 * reference. A feature drifts when its PSI exceeds `psiThreshold` OR its
 * test's p-value, adjusted for testing every feature (`correction`), is below
 * `pValue`; the report says "retrain" when at least `minDriftedShare` of the
 * features drift. Every field has a default, so `driftPolicySchema.parse({})`
 * is a complete policy.
 */
export const driftPolicySchema = z.object({
  /** PSI above this marks a feature as drifted (0.1–0.25 is the usual "moderate" band; 100 turns PSI off). */
  psiThreshold: inRange({ min: 0, max: 100, minExclusive: true }).default(0.2),
  /** Significance level for the adjusted KS / chi-squared p-values. */
  pValue: share({ minExclusive: true, maxExclusive: true }).default(0.05),
  /** Multiple-testing correction across the report's features: Benjamini–Hochberg, Bonferroni or none. */
  correction: z.enum(['bh', 'bonferroni', 'none']).default('bh'),
  /** Share of features that must drift for the report to say "retrain" (> 0, so no drift never retrains). */
  minDriftedShare: share({ minExclusive: true }).default(0.3),
  /** Quantile bins per numeric feature for PSI, before duplicate edges are merged. */
  bins: inRange({ min: 2, max: 1000, integer: true }).default(10),
  /** Floor for a bin's share in PSI (see PSI_DEFAULT_EPSILON); above 1% it would hide real shifts. */
  epsilon: inRange({ min: 0, max: 0.01, minExclusive: true }).default(1e-4),
});

export type DriftPolicyInput = z.input<typeof driftPolicySchema>;
export type DriftPolicy = z.output<typeof driftPolicySchema>;

/**
 * Parses a drift policy, filling every default; throws a ZodError naming the bad fields.
 *
 * @example
 * parseDriftPolicy({ correction: 'bonferroni' }).psiThreshold; // => 0.2
 */
export function parseDriftPolicy(input: unknown): DriftPolicy {
  return driftPolicySchema.parse(input);
}
