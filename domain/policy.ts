import { z } from 'zod';
import { driftPolicySchema } from './drift/policy';
import { evaluationGatePolicySchema } from './evaluation/policy';
import { performancePolicySchema } from './performance/policy';
import { type TriggerPolicy, triggerPolicySchema } from './trigger-policy';

/**
 * A model's policy: what its data must look like and how each stage of the
 * CT loop treats it. Durations are in seconds so that tests can run a whole
 * loop in seconds on the real server; production policies use hours.
 * Every field has a default, so `policySchema.parse({ schema })` is a
 * complete, conservative policy.
 */

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier (letters, digits, underscore)');

export const featureSchema = z
  .object({
    name: identifier,
    /**
     * How drift reports compare this column: numeric (PSI on quantile bins + KS)
     * or categorical (each distinct cell text is a category; PSI over categories +
     * chi-squared); absent means numeric. Optional rather than defaulted so that
     * code building a schema by hand need not name it. Validation and training
     * still read every feature as a number, so a categorical feature is given as
     * numeric codes there.
     */
    type: z.enum(['numeric', 'categorical']).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    /** Share of empty cells allowed in this column (0 = none). */
    maxNullRate: z.number().min(0).max(1).default(0),
  })
  .refine((f) => f.min === undefined || f.max === undefined || f.min <= f.max, {
    message: 'min must not exceed max',
  });

export const dataSchemaSchema = z.object({
  features: z.array(featureSchema).min(1),
  /** Binary label column, values 0 or 1. */
  label: identifier,
});

export const validationPolicySchema = z.object({
  minRows: z.number().int().positive().default(100),
});

export const trainingPolicySchema = z.object({
  /** A trainer registered on the training workers: builtin-logreg, python-numpy, python-torch, or one from CTLOOP_TRAINERS. */
  trainer: z.string().min(1).default('builtin-logreg'),
  /** Hyper-parameters, passed to the trainer as they are; the trainer validates them (bad ones are never retried). */
  params: z
    .record(z.string(), z.unknown())
    .default(() => ({ epochs: 200, learningRate: 0.5, l2: 0.001, seed: 42 })),
  /** A checkpoint is written (and heartbeated) every this many steps. */
  checkpointEvery: z.number().int().min(1).default(20),
  /** How many checkpoints of a run the artifact store keeps (older ones are pruned). */
  keepCheckpoints: z.number().int().min(1).max(100).default(3),
  /** The last share of the rows is the hold-out set that evaluation scores both models on. */
  holdoutFraction: z.number().gt(0).lt(1).default(0.2),
  resources: z.object({ gpu: z.boolean().default(false) }).default({ gpu: false }),
  /** A worker that stops heartbeating for this long is taken as lost; training resumes elsewhere. */
  heartbeatTimeoutSeconds: z.number().min(1).max(3600).default(15),
  retries: z
    .object({
      /** Lost workers and preempted trainers: resumed from the last checkpoint, with backoff. */
      preemptions: z.number().int().min(0).default(20),
      /** Trainer crashes and bad output: a small budget, then the run ends `failed`. */
      crashes: z.number().int().min(0).default(2),
      backoffSeconds: z.number().min(0).default(1),
      maxBackoffSeconds: z.number().min(0).default(30),
    })
    .default({ preemptions: 20, crashes: 2, backoffSeconds: 1, maxBackoffSeconds: 30 }),
});

/** A first model must reach this accuracy unless the policy says otherwise. */
const DEFAULT_FIRST_MODEL_ACCURACY = 0.6;

/**
 * Older policies said `{metric, minImprovement, minAccuracy}`; they keep their
 * meaning (`minAccuracy` is the first model's minimum accuracy). A policy that
 * decides on accuracy and names no minimums gets the default one, so a first
 * model is not refused for want of a threshold.
 */
function upgradeEvaluationPolicy(value: unknown): unknown {
  if (value === undefined) return { minimums: { accuracy: DEFAULT_FIRST_MODEL_ACCURACY } };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const { metric, minAccuracy, ...rest } = value as Record<string, unknown>;
  const upgraded: Record<string, unknown> = { ...rest };
  if (metric !== undefined && upgraded.primaryMetric === undefined) upgraded.primaryMetric = metric;
  if (minAccuracy !== undefined) {
    upgraded.minimums = { accuracy: minAccuracy, ...((rest.minimums as object | undefined) ?? {}) };
  }
  if (upgraded.minimums === undefined && (upgraded.primaryMetric ?? 'accuracy') === 'accuracy') {
    upgraded.minimums = { accuracy: DEFAULT_FIRST_MODEL_ACCURACY };
  }
  return upgraded;
}

/**
 * The evaluation gate (domain/evaluation/policy.ts): the primary metric must
 * improve by `minImprovement` and significantly (McNemar for accuracy, a
 * paired bootstrap otherwise), guardrails must stay within their margins, no
 * slice may regress; with no champion, `minimums` apply.
 */
export const evaluationPolicySchema = z.preprocess(upgradeEvaluationPolicy, evaluationGatePolicySchema);

/** Who may decide at one level of an approval: how many distinct people, of which role and group. */
const approverRulesShape = {
  /** Distinct approvals needed; a single rejection by an eligible approver rejects the run. */
  approvers: z.number().int().min(1).max(20).default(1),
  /** Role an approver must have (`admin` may always approve). */
  role: z.enum(['approver', 'admin']).default('approver'),
  /** When set, only identities in this group may decide. */
  group: z.string().trim().min(1).optional(),
  /** Deadline for this level, counted from when it opens. */
  timeoutSeconds: z.number().positive().default(86_400),
  /** A reminder notification this long before the deadline. */
  reminderBeforeSeconds: z.number().positive().optional(),
};

const reminderBeforeDeadline = (l: { reminderBeforeSeconds?: number; timeoutSeconds: number }) =>
  l.reminderBeforeSeconds === undefined || l.reminderBeforeSeconds < l.timeoutSeconds;

export const approvalPolicySchema = z
  .object({
    required: z.boolean().default(true),
    ...approverRulesShape,
    /**
     * Four-eyes: whoever triggered the run or registered the model may not
     * approve it.
     */
    fourEyes: z.boolean().default(true),
    /** At the deadline: reject the run, or hand the decision to `escalation` with its own deadline. */
    onExpiry: z.enum(['reject', 'escalate']).default('reject'),
    escalation: z
      .object(approverRulesShape)
      .refine(reminderBeforeDeadline, {
        message: 'reminderBeforeSeconds must be shorter than timeoutSeconds',
        path: ['reminderBeforeSeconds'],
      })
      .optional(),
  })
  .refine(reminderBeforeDeadline, {
    message: 'reminderBeforeSeconds must be shorter than timeoutSeconds',
    path: ['reminderBeforeSeconds'],
  })
  .refine((a) => a.onExpiry !== 'escalate' || a.escalation !== undefined, {
    message: 'onExpiry "escalate" needs an escalation level (group, approvers, timeoutSeconds)',
    path: ['escalation'],
  });

export const canaryPolicySchema = z
  .object({
    /** Traffic shares (percent) for the candidate; the last step must be 100 (promotion). */
    steps: z.array(z.number().gt(0).max(100)).min(1).default([10, 50, 100]),
    /** Requests per version (champion and candidate) before error rate and latency are judged at a step. */
    minRequests: z.number().int().min(1).default(50),
    /** Labelled predictions per version before quality (accuracy on feedback) is judged. */
    minLabelled: z.number().int().min(1).default(50),
    stepMinSeconds: z.number().min(0).default(0),
    stepMaxSeconds: z.number().positive().default(600),
    /** How often the run looks at the gateway's records during a step. */
    pollSeconds: z.number().positive().default(5),
    /** Roll back when candidate error rate exceeds the champion's by more than this (significantly so). */
    maxErrorRateIncrease: z.number().min(0).max(1).default(0.02),
    /** Roll back when candidate accuracy on labelled feedback is lower by more than this (significantly so). */
    maxAccuracyDrop: z.number().min(0).max(1).default(0.05),
    /**
     * Latency margin: the candidate's median may exceed the champion's by the larger of
     * this share of the champion's median and latencyAllowanceMs.
     */
    maxLatencyIncrease: z.number().min(0).default(0.2),
    latencyAllowanceMs: z.number().min(0).default(5),
    /** Most recent latencies per version the analysis ranks (Mann–Whitney U); caps the workflow's history. */
    latencySampleSize: z.number().int().min(10).max(5000).default(2000),
    /** False-alarm level of each metric's test (a healthy candidate is rolled back at most this often per metric). */
    alpha: z.number().gt(0).lt(0.5).default(0.01),
    /**
     * Always-valid sequential test (mixture SPRT) for error rate and quality, safe to
     * look at on every poll; false re-runs a fixed-sample z-test at each poll instead.
     */
    sequential: z.boolean().default(true),
    /** Spread τ of the mSPRT's normal mixture: the size of difference (beyond the margin) it is tuned to find. */
    mixtureSd: z
      .object({
        errorRate: z.number().gt(0).max(1).default(0.05),
        accuracy: z.number().gt(0).max(1).default(0.1),
      })
      .default({ errorRate: 0.05, accuracy: 0.1 }),
    /** A step passes only once quality is judged; false lets it pass on error rate and latency alone (late labels). */
    requireQuality: z.boolean().default(true),
    /**
     * A step passes only when the data show, at alpha, that each proportion metric is within its
     * margin (a non-inferiority test); by default an estimate within the margin suffices.
     */
    requireNonInferiority: z.boolean().default(false),
    /**
     * What a step that reaches stepMaxSeconds without a verdict does: roll back, go on, or
     * pause the rollout and ask a human (`ask`), who answers like an approval.
     */
    onInconclusive: z.enum(['rollback', 'proceed', 'ask']).default('rollback'),
    /** Who is asked when a step is inconclusive, until when, and what the deadline means. */
    ask: z
      .object({
        approvers: z.number().int().min(1).max(20).default(1),
        role: z.enum(['approver', 'admin']).default('approver'),
        group: z.string().trim().min(1).optional(),
        timeoutSeconds: z.number().positive().default(3600),
        reminderBeforeSeconds: z.number().positive().optional(),
        /** With no decision by the deadline. */
        onExpiry: z.enum(['rollback', 'proceed']).default('rollback'),
      })
      .default(() => ({
        approvers: 1,
        role: 'approver' as const,
        timeoutSeconds: 3600,
        onExpiry: 'rollback' as const,
      })),
  })
  .refine((c) => c.steps.every((s, i) => i === 0 || s > c.steps[i - 1]!), {
    message: 'canary steps must increase',
    path: ['steps'],
  })
  .refine((c) => c.steps[c.steps.length - 1] === 100, {
    message: 'the last canary step must be 100',
    path: ['steps'],
  })
  .refine((c) => c.stepMinSeconds <= c.stepMaxSeconds, {
    message: 'stepMinSeconds must not exceed stepMaxSeconds',
    path: ['stepMinSeconds'],
  });

export const bakePolicySchema = z.object({
  /** After promotion the previous champion stays restorable for this long. */
  seconds: z.number().min(0).default(3600),
  /**
   * During the bake, compare the new champion's traffic with the baseline the
   * previous champion recorded in the last canary step (same tests as the
   * canary); a regression rolls back.
   */
  regressionCheck: z.boolean().default(true),
  pollSeconds: z.number().positive().default(5),
});

/**
 * The promotion saga (alias, routing, monitors). Each undo is retried with
 * exponential backoff (doubling from backoffSeconds up to maxBackoffSeconds)
 * this many times in all; an undo that still fails leaves the run `failed`
 * with the half-undone steps named, an audit event and an alert. The default
 * keeps retrying for about an hour.
 */
export const promotionPolicySchema = z.object({
  undoRetries: z
    .object({
      attempts: z.number().int().min(1).max(1000).default(20),
      backoffSeconds: z.number().positive().max(3600).default(1),
      maxBackoffSeconds: z.number().positive().max(86_400).default(300),
    })
    .refine((r) => r.backoffSeconds <= r.maxBackoffSeconds, {
      message: 'backoffSeconds must not exceed maxBackoffSeconds',
      path: ['backoffSeconds'],
    })
    .default({ attempts: 20, backoffSeconds: 1, maxBackoffSeconds: 300 }),
});

export const policySchema = z.object({
  schema: dataSchemaSchema,
  validation: validationPolicySchema.default({ minRows: 100 }),
  training: trainingPolicySchema.default(() => trainingPolicySchema.parse({})),
  evaluation: evaluationPolicySchema,
  approval: approvalPolicySchema.default(() => approvalPolicySchema.parse({})),
  canary: canaryPolicySchema.default(() => canaryPolicySchema.parse({})),
  bake: bakePolicySchema.default(() => bakePolicySchema.parse({})),
  promotion: promotionPolicySchema.default(() => promotionPolicySchema.parse({})),
  /** When a drift report says "retrain" (domain/drift/policy.ts). */
  drift: driftPolicySchema.default(() => driftPolicySchema.parse({})),
  /** Production metrics that ask for a retrain when they stay beyond a threshold (domain/performance/policy.ts). */
  performance: performancePolicySchema.default(() => performancePolicySchema.parse({})),
  /** How triggers are governed: dedup TTL, cooldowns, daily run budget (domain/trigger-policy.ts). */
  triggers: triggerPolicySchema.default(() => triggerPolicySchema.parse({})),
});

export type PolicyInput = z.input<typeof policySchema>;
export type Policy = z.output<typeof policySchema>;
export type DataSchema = Policy['schema'];
export type FeatureSpec = DataSchema['features'][number];
export type ValidationPolicy = Policy['validation'];
export type TrainingPolicy = Policy['training'];
export type EvaluationPolicy = Policy['evaluation'];
export type ApprovalPolicy = Policy['approval'];
export type CanaryPolicy = Policy['canary'];
export type BakePolicy = Policy['bake'];
export type PromotionPolicy = Policy['promotion'];

/** Parses a policy, filling every default; throws a ZodError naming the bad fields. */
export function parsePolicy(input: unknown): Policy {
  return policySchema.parse(input);
}

/**
 * The `triggers` section of a stored policy, as `parsePolicy(stored).triggers`
 * would give it, without parsing the rest: the trigger endpoint needs only
 * this, on every request.
 */
export function parseTriggerPolicy(stored: unknown): TriggerPolicy {
  const section =
    stored !== null && typeof stored === 'object' ? (stored as { triggers?: unknown }).triggers : undefined;
  return triggerPolicySchema.parse(section ?? {});
}
