import { z } from '@hono/zod-openapi';
import { OUTCOMES, STAGES, TRIGGER_REASONS } from '../workflows/messages';

/**
 * Response schemas shared by several route modules: the registry's rows as
 * the API shows them (timestamps as ISO strings) and the workflows' live
 * state. A route's own answers are declared beside the route. The handlers
 * are type-checked against these, and the fuzz test checks every response
 * the API sends against them, so they cannot drift from what is sent.
 */

export const timestamp = z.string().openapi({ format: 'date-time' });
const int = z.number().int();
const version = int.min(1);

/**
 * A stored JSON document whose shape belongs to another part of ctloop (a
 * policy, a stage report, a trigger's details). Documented as an object
 * without listing its fields, which may grow.
 */
export const document = (description: string) => z.unknown().openapi({ type: 'object', description });
export const documentOrNull = (description: string) =>
  z.unknown().openapi({ type: ['object', 'null'], description });

/**
 * A schema or null. Not `.nullable()`: on a named schema (a $ref) that makes
 * `allOf: [$ref, {type: [object, null]}]`, which null does not match.
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);

export const ModelRecord = z
  .object({
    name: z.string(),
    policy: document('The parsed policy, every default filled in (README: "A model\'s policy")'),
    dataUri: z.string(),
    frozen: z.boolean(),
    frozenReason: z.string().nullable(),
    createdBy: z.string(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('ModelRecord');

export const ModelView = ModelRecord.extend({
  champion: version.nullable().openapi({ description: 'The version the champion alias points at' }),
  freeze: z.object({
    frozen: z.boolean(),
    reason: z.string().nullable(),
    by: z.string().nullable(),
    at: timestamp.nullable(),
  }),
}).openapi('Model');

export const VersionRecord = z
  .object({
    id: int,
    model: z.string(),
    version,
    artifactUri: z.string(),
    metrics: document('Training metrics of the candidate'),
    dataUri: z.string(),
    dataHash: z.string(),
    codeVersion: z.string(),
    params: document('Hyper-parameters the trainer ran with'),
    runId: z.string(),
    evaluation: documentOrNull('The evaluation report (candidate vs champion), null before evaluation'),
    faultErrorRate: z.number().min(0).max(1),
    createdAt: timestamp,
  })
  .openapi('ModelVersion');

export const RunRecord = z
  .object({
    id: z.string(),
    model: z.string(),
    workflowId: z.string(),
    causes: z.unknown().openapi({
      type: 'array',
      items: { type: 'object' },
      description: 'The triggers the run answers: reason, details, who asked, when',
    }),
    stage: z.string().openapi({ description: `one of ${STAGES.join(', ')}` }),
    outcome: z
      .string()
      .nullable()
      .openapi({ description: `null while it runs; then one of ${OUTCOMES.join(', ')}` }),
    outcomeReason: z.string().nullable(),
    dataUri: z.string().nullable(),
    reports: document('Stage reports: validation, training progress, evaluation, canary steps'),
    candidateVersion: version.nullable(),
    startedAt: timestamp,
    endedAt: timestamp.nullable(),
  })
  .openapi('Run');

export const TriggerRecord = z
  .object({
    id: z.uuid(),
    model: z.string(),
    reason: z.string().openapi({ description: `one of ${TRIGGER_REASONS.join(', ')}` }),
    details: document('What the sender attached (a drift report id, an alarm’s evidence, …)'),
    dedupKey: z.string().nullable(),
    requestedBy: z.string(),
    fate: z.string().openapi({
      description: 'started, queued, joined, held, deduplicated, suppressed; received or failed_to_deliver',
    }),
    fateReason: z.string().nullable(),
    runId: z.string().nullable(),
    receivedAt: timestamp,
  })
  .openapi('TriggerRecord');

export const AuditEvent = z
  .object({
    id: int,
    model: z.string(),
    runId: z.string().nullable(),
    kind: z.string(),
    actor: z.string(),
    reason: z.string().nullable(),
    details: document('What the event is about, by kind'),
    eventKey: z.string().nullable(),
    at: timestamp,
  })
  .openapi('AuditEvent');

export const AliasChange = z
  .object({
    id: int,
    model: z.string(),
    alias: z.string(),
    fromVersion: version.nullable(),
    toVersion: version.nullable(),
    runId: z.string().nullable(),
    actor: z.string(),
    reason: z.string(),
    at: timestamp,
  })
  .openapi('AliasChange');

export const ApprovalDecisionRecord = z
  .object({
    id: int,
    model: z.string(),
    runId: z.string(),
    candidateVersion: version.nullable(),
    actor: z.string(),
    role: z.string().nullable(),
    decision: z.string(),
    reason: z.string().nullable(),
    via: z.string(),
    level: z.string().nullable(),
    evaluationReportHash: z.string().nullable(),
    status: z.string().openapi({ description: 'accepted or refused' }),
    refusal: z.string().nullable(),
    eventKey: z.string().nullable(),
    at: timestamp,
  })
  .openapi('ApprovalDecision');

const Vote = document('One approval: who, role, group, reason, when');

export const ApprovalState = z
  .object({
    required: z.boolean(),
    deadline: timestamp.nullable(),
    decision: z.enum(['approve', 'reject', 'expired']).nullable(),
    by: z.string().nullable(),
    reason: z.string().nullable(),
    level: z.enum(['primary', 'escalation']).nullable(),
    needed: int.min(0),
    role: z.string().nullable(),
    group: z.string().nullable(),
    reminderAt: timestamp.nullable(),
    votes: z.array(Vote).readonly(),
    refusals: int.min(0),
    evaluationReportHash: z.string().nullable(),
    purpose: z.enum(['promotion', 'canary']).nullable(),
    question: z.string().nullable(),
    fourEyes: z.boolean(),
  })
  .openapi('ApprovalState');

export const RunState = z
  .object({
    model: z.string(),
    runId: z.string(),
    stage: z.enum(STAGES),
    causes: z.array(document('A trigger the run answers')).readonly(),
    omittedCauses: int.min(0).openapi({
      description:
        'Triggers that joined the run beyond the 200 causes (128 KiB) it carries; each still names the run in its trigger record',
    }),
    candidateVersion: version.nullable(),
    championVersion: version.nullable(),
    training: z.object({
      taskQueue: z.string().nullable(),
      attempts: int.min(0),
      preemptions: int.min(0),
      crashes: int.min(0),
      lostSteps: int.min(0),
      lastCheckpoint: z.object({ uri: z.string(), step: int.min(0) }).nullable(),
      lastError: z.string().nullable(),
    }),
    approval: ApprovalState,
    canary: z.object({
      weight: z.number(),
      steps: z
        .array(
          z.object({
            weight: z.number(),
            verdict: z.string(),
            reasons: z.array(z.string()).readonly(),
            championRequests: int.min(0),
            candidateRequests: int.min(0),
          }),
        )
        .readonly(),
      paused: z.boolean(),
      controls: z.array(document('An operator control as the run applied or refused it')).readonly(),
    }),
    bakeEndsAt: timestamp.nullable(),
    frozen: z
      .boolean()
      .openapi({ description: 'The model is frozen: the run holds before its canary and its promotion' }),
    held: z.string().nullable().openapi({
      description: 'What waits for the model to be unfrozen (`the canary`, `the promotion`), or null',
    }),
    outcome: z.enum(OUTCOMES).nullable(),
    reason: z.string().nullable(),
  })
  .openapi('RunState');

const PendingRun = z
  .object({
    runId: z.string(),
    omittedCauses: int
      .min(0)
      .optional()
      .openapi({ description: 'Triggers that joined beyond the causes it carries' }),
  })
  .openapi('PendingRun');

export const ModelState = z
  .object({
    model: z.string(),
    current: orNull(PendingRun),
    currentStage: z.enum(STAGES).nullable(),
    pending: orNull(PendingRun),
    completedRuns: int.min(0),
    lastOutcome: documentOrNull('The last run: id, outcome, reason, when'),
    freeze: z.object({
      frozen: z.boolean(),
      reason: z.string().nullable(),
      by: z.string().nullable(),
      at: timestamp.nullable(),
    }),
    cooldown: z.object({ until: timestamp, after: z.string() }).nullable(),
    runsLast24h: int.min(0),
    dailyRunBudget: int.nullable(),
    dedupKeys: int.min(0),
  })
  .openapi('ModelWorkflowState');

export const TriggerAnswer = z
  .object({
    triggerId: z.uuid(),
    fate: z.enum(['started', 'queued', 'joined', 'held', 'deduplicated', 'suppressed']),
    runId: z.string().nullable(),
    workflowId: z.string(),
    reason: z.string().optional().openapi({ description: 'Why it was held, deduplicated or suppressed' }),
    duplicateOf: z.string().optional().openapi({ description: 'For `deduplicated`: the earlier trigger' }),
  })
  .openapi('TriggerAnswer');
