import { z } from 'zod';
import { boundedText, inRange, share } from '../policy-bounds';

/**
 * The evaluation gate's policy: which metric decides, by how much and how
 * surely the candidate must beat the champion, which metrics it must not
 * worsen, and which segments it must not regress on. Every field has a
 * default, so `evaluationGatePolicySchema.parse({})` is a complete policy
 * (accuracy must improve by 0.01, significant at 0.05). Meant to be merged
 * into the model policy (`domain/policy.ts`) as its `evaluation` section.
 */

/**
 * accuracy, f1 (positive class 1) and rocAuc: higher is better; logLoss, rmse
 * and mae: lower is better. accuracy, f1 and logLoss read the scores as
 * probabilities of class 1 (labels 0/1); rmse and mae compare scores with
 * yTrue as numbers (a regression, or the Brier score when yTrue is 0/1).
 */
export const evaluationMetricSchema = z.enum(['accuracy', 'f1', 'rocAuc', 'logLoss', 'rmse', 'mae']);

/**
 * Margins and improvements are in the metric's units: at most 1 for accuracy,
 * f1 and AUC, but rmse and mae are in the label's units, so the cap is generous.
 */
const MAX_MARGIN = 1_000_000;
/** Hold-out rows a segment or the gate needs before it judges. */
const MAX_ROWS = 10_000_000;

export const guardrailSchema = z.object({
  metric: evaluationMetricSchema,
  /** Largest worsening tolerated, in the metric's units (0.02 = two points of accuracy). */
  margin: inRange({ min: 0, max: MAX_MARGIN }),
});

export const sliceCheckSchema = z.object({
  /** The segment column whose values group the hold-out rows (e.g. "region"). */
  column: boundedText(128),
  /** Largest worsening of the primary metric tolerated within any one segment value. */
  margin: inRange({ min: 0, max: MAX_MARGIN }),
  /** Segment values with fewer hold-out rows are reported but not judged. */
  minRows: inRange({ min: 1, max: MAX_ROWS, integer: true }).default(30),
});

export const evaluationGatePolicySchema = z
  .object({
    primaryMetric: evaluationMetricSchema.default('accuracy'),
    /** The candidate must beat the champion by at least this much, in the primary metric's better direction. */
    minImprovement: inRange({ min: 0, max: MAX_MARGIN }).default(0.01),
    /** Significance level of the primary test and two-sided level of every bootstrap interval. */
    alpha: inRange({ min: 0, max: 0.5, minExclusive: true }).default(0.05),
    guardrails: z
      .array(guardrailSchema)
      .max(evaluationMetricSchema.options.length, { error: 'each guardrail metric may appear once' })
      .default([]),
    slices: sliceCheckSchema.optional(),
    /**
     * With no champion yet, the absolute level each listed metric must reach:
     * at least this for higher-is-better metrics, at most this for lower-is-better ones.
     */
    minimums: z.partialRecord(evaluationMetricSchema, z.number()).default({}),
    /** Fewer hold-out rows than this: the gate is inconclusive rather than guessing. */
    minRows: inRange({ min: 1, max: MAX_ROWS, integer: true }).default(30),
    /** A row is predicted positive when its score is ≥ threshold (accuracy, f1). */
    threshold: share().default(0.5),
    bootstrapResamples: inRange({ min: 100, max: 100_000, integer: true }).default(2000),
    /** Seeds the bootstrap, so a run's verdict can be replayed exactly. */
    seed: inRange({ min: 0, max: 2 ** 32 - 1, integer: true }).default(42),
  })
  .refine((p) => new Set(p.guardrails.map((g) => g.metric)).size === p.guardrails.length, {
    message: 'each guardrail metric may appear once',
    path: ['guardrails'],
  });

export type EvaluationMetric = z.infer<typeof evaluationMetricSchema>;
export type EvaluationGatePolicyInput = z.input<typeof evaluationGatePolicySchema>;
export type EvaluationGatePolicy = z.output<typeof evaluationGatePolicySchema>;
