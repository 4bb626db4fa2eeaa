import { z } from 'zod';

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

export const guardrailSchema = z.object({
  metric: evaluationMetricSchema,
  /** Largest worsening tolerated, in the metric's units (0.02 = two points of accuracy). */
  margin: z.number().min(0),
});

export const sliceCheckSchema = z.object({
  /** The segment column whose values group the hold-out rows (e.g. "region"). */
  column: z.string().min(1),
  /** Largest worsening of the primary metric tolerated within any one segment value. */
  margin: z.number().min(0),
  /** Segment values with fewer hold-out rows are reported but not judged. */
  minRows: z.number().int().min(1).default(30),
});

export const evaluationGatePolicySchema = z
  .object({
    primaryMetric: evaluationMetricSchema.default('accuracy'),
    /** The candidate must beat the champion by at least this much, in the primary metric's better direction. */
    minImprovement: z.number().min(0).default(0.01),
    /** Significance level of the primary test and two-sided level of every bootstrap interval. */
    alpha: z.number().gt(0).max(0.5).default(0.05),
    guardrails: z.array(guardrailSchema).default([]),
    slices: sliceCheckSchema.optional(),
    /**
     * With no champion yet, the absolute level each listed metric must reach:
     * at least this for higher-is-better metrics, at most this for lower-is-better ones.
     */
    minimums: z.partialRecord(evaluationMetricSchema, z.number()).default({}),
    /** Fewer hold-out rows than this: the gate is inconclusive rather than guessing. */
    minRows: z.number().int().min(1).default(30),
    /** A row is predicted positive when its score is ≥ threshold (accuracy, f1). */
    threshold: z.number().min(0).max(1).default(0.5),
    bootstrapResamples: z.number().int().min(100).max(100_000).default(2000),
    /** Seeds the bootstrap, so a run's verdict can be replayed exactly. */
    seed: z.number().int().default(42),
  })
  .refine((p) => new Set(p.guardrails.map((g) => g.metric)).size === p.guardrails.length, {
    message: 'each guardrail metric may appear once',
    path: ['guardrails'],
  });

export type EvaluationMetric = z.infer<typeof evaluationMetricSchema>;
export type EvaluationGatePolicyInput = z.input<typeof evaluationGatePolicySchema>;
export type EvaluationGatePolicy = z.output<typeof evaluationGatePolicySchema>;
