import { z } from 'zod';
import { driftPolicySchema } from './drift/policy';
import { evaluationGatePolicySchema } from './evaluation/policy';
import { performancePolicySchema } from './performance/policy';
import {
  boundedText,
  DAY,
  HOUR,
  InvalidPolicyError,
  inRange,
  parseClamped,
  seconds,
  share,
} from './policy-bounds';
import { boundedTriggerPolicy, type TriggerPolicy, triggerPolicySchema } from './trigger-policy';

/**
 * A model's policy: what its data must look like and how each stage of the
 * CT loop treats it. Durations are in seconds so that tests can run a whole
 * loop in seconds on the real server; production policies use hours.
 * Every field has a default, so `policySchema.parse({ schema })` is a
 * complete, conservative policy. Every number has a range (policy-bounds.ts;
 * the table in docs/policy.md is generated from these schemas): the API
 * refuses a policy outside it, naming the field and the range.
 */

const identifier = boundedText(128).regex(
  /^[A-Za-z_][A-Za-z0-9_]*$/,
  'must be an identifier (letters, digits, underscore)',
);

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
    maxNullRate: share().default(0),
  })
  .refine((f) => f.min === undefined || f.max === undefined || f.min <= f.max, {
    message: 'min must not exceed max',
  });

/** Columns a model may have; validation, training and drift reports read each one. */
const MAX_FEATURES = 1_000;

export const dataSchemaSchema = z
  .object({
    features: z
      .array(featureSchema)
      .min(1, { error: 'must list at least one feature' })
      .max(MAX_FEATURES, { error: `must list at most ${MAX_FEATURES} features` }),
    /** Binary label column, values 0 or 1. */
    label: identifier,
  })
  .refine((s) => new Set(s.features.map((f) => f.name)).size === s.features.length, {
    message: 'each feature name may appear once',
    path: ['features'],
  });

export const validationPolicySchema = z.object({
  minRows: inRange({ min: 1, max: 100_000_000, integer: true }).default(100),
});

export const trainingPolicySchema = z.object({
  /** A trainer registered on the training workers: builtin-logreg, python-numpy, python-torch, or one from CTLOOP_TRAINERS. */
  trainer: boundedText(100).default('builtin-logreg'),
  /** Hyper-parameters, passed to the trainer as they are; the trainer validates them (bad ones are never retried). */
  params: z
    .record(boundedText(100), z.unknown())
    .refine((p) => Object.keys(p).length <= 100, { message: 'must have at most 100 hyper-parameters' })
    .default(() => ({ epochs: 200, learningRate: 0.5, l2: 0.001, seed: 42 })),
  /** A checkpoint is written (and heartbeated) every this many steps. */
  checkpointEvery: inRange({ min: 1, max: 1_000_000, integer: true }).default(20),
  /** How many checkpoints of a run the artifact store keeps (older ones are pruned). */
  keepCheckpoints: inRange({ min: 1, max: 100, integer: true }).default(3),
  /** The last share of the rows is the hold-out set that evaluation scores both models on. */
  holdoutFraction: share({ minExclusive: true, maxExclusive: true }).default(0.2),
  resources: z.object({ gpu: z.boolean().default(false) }).default({ gpu: false }),
  /** A worker that stops heartbeating for this long is taken as lost; training resumes elsewhere. */
  heartbeatTimeoutSeconds: seconds(1, HOUR).default(15),
  retries: z
    .object({
      /** Lost workers and preempted trainers: resumed from the last checkpoint, with backoff. */
      preemptions: inRange({ min: 0, max: 1_000, integer: true }).default(20),
      /** Trainer crashes and bad output: a small budget, then the run ends `failed`. */
      crashes: inRange({ min: 0, max: 100, integer: true }).default(2),
      backoffSeconds: seconds(0, HOUR).default(1),
      maxBackoffSeconds: seconds(0, DAY).default(30),
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

/** The longest a run waits for a human decision at one level (approval, escalation, canary question). */
const MAX_APPROVAL_WAIT = 90 * DAY;

/** Who may decide at one level of an approval: how many distinct people, of which role and group. */
const approverRulesShape = {
  /** Distinct approvals needed; a single rejection by an eligible approver rejects the run. */
  approvers: inRange({ min: 1, max: 20, integer: true }).default(1),
  /** Role an approver must have (`admin` may always approve). */
  role: z.enum(['approver', 'admin']).default('approver'),
  /** When set, only identities in this group may decide. */
  group: boundedText(200, { trim: true }).optional(),
  /** Deadline for this level, counted from when it opens; an approval may wait for people on leave. */
  timeoutSeconds: seconds(1, MAX_APPROVAL_WAIT).default(86_400),
  /** A reminder notification this long before the deadline (shorter than the deadline). */
  reminderBeforeSeconds: seconds(1, MAX_APPROVAL_WAIT).optional(),
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

const MAX_CANARY_STEPS = 20;
/** A canary step may watch a week of traffic (a model whose errors show only on weekends). */
const MAX_CANARY_STEP = 7 * DAY;
/**
 * Looks at the gateway's records (canary steps, bake). A watch activity makes
 * them, many to a history entry (domain/watch-plan.ts), so the history does not
 * grow with them; faster than once a second would only load the database.
 */
const MIN_POLL = 1;
const MAX_POLL = HOUR;

export const canaryPolicySchema = z
  .object({
    /** Traffic shares (percent) for the candidate; the last step must be 100 (promotion). */
    steps: z
      .array(inRange({ min: 0, max: 100, minExclusive: true, unit: '%' }))
      .min(1, { error: 'must list at least one step (the last is 100)' })
      .max(MAX_CANARY_STEPS, { error: `must list at most ${MAX_CANARY_STEPS} steps` })
      .default([10, 50, 100]),
    /** Requests per version (champion and candidate) before error rate and latency are judged at a step. */
    minRequests: inRange({ min: 1, max: 10_000_000, integer: true }).default(50),
    /** Labelled predictions per version before quality (accuracy on feedback) is judged. */
    minLabelled: inRange({ min: 1, max: 10_000_000, integer: true }).default(50),
    stepMinSeconds: seconds(0, MAX_CANARY_STEP).default(0),
    stepMaxSeconds: seconds(1, MAX_CANARY_STEP).default(600),
    /** How often the run looks at the gateway's records during a step (at most stepMaxSeconds). */
    pollSeconds: seconds(MIN_POLL, MAX_POLL).default(5),
    /** Roll back when candidate error rate exceeds the champion's by more than this (significantly so). */
    maxErrorRateIncrease: share().default(0.02),
    /** Roll back when candidate accuracy on labelled feedback is lower by more than this (significantly so). */
    maxAccuracyDrop: share().default(0.05),
    /**
     * Latency margin: the candidate's median may exceed the champion's by the larger of
     * this share of the champion's median and latencyAllowanceMs.
     */
    maxLatencyIncrease: inRange({ min: 0, max: 10 }).default(0.2),
    latencyAllowanceMs: inRange({ min: 0, max: 60_000, unit: 'ms' }).default(5),
    /** Most recent latencies per version the analysis ranks (Mann–Whitney U); caps the workflow's history. */
    latencySampleSize: inRange({ min: 10, max: 5000, integer: true }).default(2000),
    /** False-alarm level of each metric's test (a healthy candidate is rolled back at most this often per metric). */
    alpha: inRange({ min: 0, max: 0.5, minExclusive: true, maxExclusive: true }).default(0.01),
    /**
     * Always-valid sequential test (mixture SPRT) for error rate and quality, safe to
     * look at on every poll; false re-runs a fixed-sample z-test at each poll instead.
     */
    sequential: z.boolean().default(true),
    /** Spread τ of the mSPRT's normal mixture: the size of difference (beyond the margin) it is tuned to find. */
    mixtureSd: z
      .object({
        errorRate: share({ minExclusive: true }).default(0.05),
        accuracy: share({ minExclusive: true }).default(0.1),
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
        approvers: inRange({ min: 1, max: 20, integer: true }).default(1),
        role: z.enum(['approver', 'admin']).default('approver'),
        group: boundedText(200, { trim: true }).optional(),
        timeoutSeconds: seconds(1, MAX_APPROVAL_WAIT).default(3600),
        reminderBeforeSeconds: seconds(1, MAX_APPROVAL_WAIT).optional(),
        /** With no decision by the deadline. */
        onExpiry: z.enum(['rollback', 'proceed']).default('rollback'),
      })
      .refine(reminderBeforeDeadline, {
        message: 'reminderBeforeSeconds must be shorter than timeoutSeconds',
        path: ['reminderBeforeSeconds'],
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
  })
  .refine((c) => c.pollSeconds <= c.stepMaxSeconds, {
    message: 'pollSeconds must not exceed stepMaxSeconds (a step would end before its first look)',
    path: ['pollSeconds'],
  });

/** A new champion may bake for a month (a model judged on monthly cycles). */
const MAX_BAKE = 30 * DAY;

export const bakePolicySchema = z.object({
  /** After promotion the previous champion stays restorable for this long. */
  seconds: seconds(0, MAX_BAKE).default(3600),
  /**
   * During the bake, compare the new champion's traffic with the baseline the
   * previous champion recorded in the last canary step (same tests as the
   * canary); a regression rolls back.
   */
  regressionCheck: z.boolean().default(true),
  pollSeconds: seconds(MIN_POLL, MAX_POLL).default(5),
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
      attempts: inRange({ min: 1, max: 1000, integer: true }).default(20),
      backoffSeconds: seconds(0, HOUR, { minExclusive: true }).default(1),
      // Below backoffSeconds it caps nothing: the retries then wait backoffSeconds each (workflows/promotion-saga.ts).
      maxBackoffSeconds: seconds(0, DAY, { minExclusive: true }).default(300),
    })
    .default({ attempts: 20, backoffSeconds: 1, maxBackoffSeconds: 300 }),
});

/**
 * Which data a run trains on when the model's data source is a pattern of
 * dated partitions (`data/churn/dt=*\/part-*.csv`; domain/data-window.ts).
 * Ignored for a single file.
 */
export const dataPolicySchema = z.object({
  /** Days of partitions up to the run's start; absent: every partition. */
  windowDays: inRange({ min: 1, max: 3650, integer: true, unit: 'days' }).optional(),
  /**
   * The newest this many days of the window are the hold-out set that both
   * models are judged on (time-based); absent: the last holdoutFraction of the rows.
   */
  holdoutDays: inRange({ min: 1, max: 365, integer: true, unit: 'days' }).optional(),
  /** The run ends rejected_data when the newest partition is older than this. */
  maxAgeDays: inRange({ min: 0, max: 3650, integer: true, unit: 'days' }).optional(),
  /**
   * Without holdoutDays, which rows are the hold-out share (training.holdoutFraction):
   * `last`, the last rows as the data lists them; `random`, a seeded random sample
   * (the run's data is then read into the artifact store in a shuffled order, for
   * a single file too). With holdoutDays the hold-out is always the newest days.
   */
  holdout: z.enum(['last', 'random']).default('last'),
  /** Seed of the random hold-out: the same data gives the same split. */
  seed: inRange({ min: 0, max: 2 ** 31 - 1, integer: true }).default(42),
});

/** What the serving gateway keeps of this model's traffic (serving/prediction-retention.ts). */
export const servingPolicySchema = z.object({
  /**
   * Raw predictions older than this are deleted (feedback can join a prediction
   * only while it is kept); the per-version aggregates the canary reads are kept.
   */
  retentionDays: inRange({ min: 1, max: 3650, integer: true, unit: 'days' }).default(30),
  /**
   * Who computes the predictions: `builtin`, the gateway itself; `v2`, an
   * external Open Inference Protocol server (CTLOOP_V2_URL, e.g. MLServer),
   * to which the gateway forwards each request and where every candidate is
   * loaded and smoke-tested (infra-validation) before any traffic reaches it.
   */
  backend: z.enum(['builtin', 'v2']).default('builtin'),
  /** Hold-out rows infra-validation sends to the V2 server; each answer must equal ctloop's own. */
  smokeRequests: inRange({ min: 1, max: 1000, integer: true }).default(20),
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
  serving: servingPolicySchema.default(() => servingPolicySchema.parse({})),
  data: dataPolicySchema.default(() => dataPolicySchema.parse({})),
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
export type DataPolicy = Policy['data'];

/** Parses a policy, filling every default; throws a ZodError naming the bad fields. */
export function parsePolicy(input: unknown): Policy {
  return policySchema.parse(input);
}

/**
 * A model's stored policy, checked against today's bounds: the policy a run
 * begins with. A row written past the API (or before a bound existed) that
 * breaks them throws an InvalidPolicyError naming each field and its range,
 * so the run ends at once with that reason instead of failing somewhere
 * inside a workflow.
 */
export function parseStoredPolicy(stored: unknown, model: string): Policy {
  const result = policySchema.safeParse(stored);
  if (result.success) return result.data;
  throw InvalidPolicyError.from(
    result.error,
    `the stored policy of model ${model} (fix it with PUT /v1/models/${model})`,
  );
}

/**
 * One section of a model's stored policy, checked like parseStoredPolicy
 * checks the whole: a drift report needs the drift rules, and should not be
 * refused for a bad value in, say, the canary section.
 */
export function parseStoredSection<K extends keyof Policy>(
  stored: unknown,
  model: string,
  key: K,
): Policy[K] {
  const section =
    stored !== null && typeof stored === 'object' ? (stored as Record<string, unknown>)[key] : undefined;
  const result = policySchema.shape[key].safeParse(section);
  if (result.success) return result.data as Policy[K];
  throw new InvalidPolicyError(
    result.error.issues.map((i) => ({ path: [key, ...i.path].join('.'), message: i.message })),
    `the stored policy of model ${model} (fix it with PUT /v1/models/${model})`,
  );
}

/**
 * A policy recorded earlier, as a run's history holds it: defaults filled for
 * fields added since, numbers outside today's ranges moved to the nearest
 * allowed value (policy-bounds.ts `parseClamped`), so that a run recorded
 * under older bounds replays and no workflow ever sees a value beyond them.
 */
export function policySnapshot(recorded: unknown): Policy {
  return parseClamped(policySchema, recorded).value;
}

/**
 * The `triggers` section of a stored policy, as `parsePolicy(stored).triggers`
 * would give it, without parsing the rest: the trigger endpoint needs only
 * this, on every request. Never throws: a section outside its bounds is
 * clamped into them, and one that cannot be read governs with the defaults,
 * so triggers keep reaching the model (whose run then ends `failed`, naming
 * the bad field: parseStoredPolicy).
 */
export function parseTriggerPolicy(stored: unknown): TriggerPolicy {
  const section =
    stored !== null && typeof stored === 'object' ? (stored as { triggers?: unknown }).triggers : undefined;
  return boundedTriggerPolicy(section ?? {});
}
