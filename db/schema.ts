import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * ctloop's registry and lineage. SQL names are snake_case, TypeScript names
 * camelCase. Row types come from `$inferSelect`/`$inferInsert`.
 */

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const models = pgTable('models', {
  name: text('name').primaryKey(),
  /** The parsed policy (every default filled), as stored by the API. */
  policy: jsonb('policy').notNull(),
  /** Where new training data for this model is read from (a CSV path in the artifact store or on disk). */
  dataUri: text('data_uri').notNull(),
  frozen: boolean('frozen').notNull().default(false),
  frozenReason: text('frozen_reason'),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const runs = pgTable(
  'runs',
  {
    id: text('id').primaryKey(),
    model: text('model')
      .notNull()
      .references(() => models.name),
    workflowId: text('workflow_id').notNull(),
    /** Every trigger that this run answers (coalesced triggers included). */
    causes: jsonb('causes').notNull(),
    stage: text('stage').notNull(),
    outcome: text('outcome'),
    outcomeReason: text('outcome_reason'),
    dataUri: text('data_uri'),
    /** Stage reports: validation, training progress, evaluation, canary steps. */
    reports: jsonb('reports').notNull().default(sql`'{}'::jsonb`),
    candidateVersion: integer('candidate_version'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
  },
  (t) => [index('runs_model_started_idx').on(t.model, t.startedAt)],
);

export const modelVersions = pgTable(
  'model_versions',
  {
    id: serial('id').primaryKey(),
    model: text('model')
      .notNull()
      .references(() => models.name),
    version: integer('version').notNull(),
    artifactUri: text('artifact_uri').notNull(),
    metrics: jsonb('metrics').notNull(),
    dataUri: text('data_uri').notNull(),
    dataHash: text('data_hash').notNull(),
    /**
     * The drift reference sketch of the data at dataUri (domain/drift/reference-sketch), made when
     * the version was trained; null for a version without one (e.g. imported from MLflow), whose
     * drift reports read the data itself.
     */
    referenceSketchUri: text('reference_sketch_uri'),
    codeVersion: text('code_version').notNull(),
    params: jsonb('params').notNull(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id),
    evaluation: jsonb('evaluation'),
    /** Gateway fault injection for chaos tests: share of this version's requests that fail. */
    faultErrorRate: doublePrecision('fault_error_rate').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('model_versions_model_version_uq').on(t.model, t.version),
    // One version per run: a retried registration after a worker crash finds the first one.
    uniqueIndex('model_versions_run_uq').on(t.runId),
  ],
);

export const aliases = pgTable(
  'aliases',
  {
    model: text('model')
      .notNull()
      .references(() => models.name),
    alias: text('alias').notNull(),
    version: integer('version').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.model, t.alias] })],
);

export const aliasHistory = pgTable(
  'alias_history',
  {
    id: serial('id').primaryKey(),
    model: text('model').notNull(),
    alias: text('alias').notNull(),
    fromVersion: integer('from_version'),
    toVersion: integer('to_version'),
    runId: text('run_id'),
    actor: text('actor').notNull(),
    reason: text('reason').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('alias_history_model_idx').on(t.model, t.at)],
);

export const triggers = pgTable(
  'triggers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    model: text('model')
      .notNull()
      .references(() => models.name),
    reason: text('reason').notNull(),
    details: jsonb('details').notNull().default(sql`'{}'::jsonb`),
    dedupKey: text('dedup_key'),
    requestedBy: text('requested_by').notNull(),
    /**
     * What ctloop did with it (workflows/messages.ts TriggerFate): started, queued, joined, held,
     * deduplicated, suppressed; `received` until the model workflow answers, `failed_to_deliver`
     * if it never did. Older rows may say `coalesced` (now `joined`) or `rejected_frozen`.
     */
    fate: text('fate').notNull(),
    /** Why it was held, deduplicated (the earlier trigger) or suppressed (frozen, cooldown, budget). */
    fateReason: text('fate_reason'),
    /** The run it started or joined; for a duplicate, the earlier trigger's run. */
    runId: text('run_id'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // Not unique: the model workflow deduplicates within a TTL, after which a key may recur.
  (t) => [
    index('triggers_model_dedup_idx').on(t.model, t.dedupKey),
    index('triggers_model_received_idx').on(t.model, t.receivedAt),
    // The reconciler's look for triggers whose fate is not known for sure (triggers/reconcile-triggers.ts).
    index('triggers_unsettled_idx')
      .on(t.receivedAt)
      .where(sql`${t.fateReason} is null and ${t.fate} in ('received', 'failed_to_deliver')`),
  ],
);

/** Decisions and operator actions: who, when, why. Append-only. */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: serial('id').primaryKey(),
    model: text('model').notNull(),
    runId: text('run_id'),
    kind: text('kind').notNull(),
    actor: text('actor').notNull(),
    reason: text('reason'),
    details: jsonb('details').notNull().default(sql`'{}'::jsonb`),
    /** Set by workflows so that a retried activity does not record the same event twice. */
    eventKey: text('event_key'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('audit_events_model_idx').on(t.model, t.at),
    uniqueIndex('audit_events_event_key_uq').on(t.eventKey),
  ],
);

/**
 * Every approval decision that reached a run, accepted or refused: who, with
 * which role, when, why, through which channel (API update or UI signal), and
 * the hash of the evaluation report they decided on. Append-only.
 */
export const approvalDecisions = pgTable(
  'approval_decisions',
  {
    id: serial('id').primaryKey(),
    model: text('model').notNull(),
    runId: text('run_id').notNull(),
    candidateVersion: integer('candidate_version'),
    actor: text('actor').notNull(),
    role: text('role'),
    decision: text('decision').notNull(),
    reason: text('reason'),
    /** `api` (an update) or `signal` (e.g. from the Temporal UI). */
    via: text('via').notNull(),
    /** `primary` or `escalation`. */
    level: text('level'),
    evaluationReportHash: text('evaluation_report_hash'),
    /** `accepted` or `refused`. */
    status: text('status').notNull(),
    refusal: text('refusal'),
    eventKey: text('event_key'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('approval_decisions_run_idx').on(t.runId, t.at),
    uniqueIndex('approval_decisions_event_key_uq').on(t.eventKey),
  ],
);

/**
 * What the model's monitors compare against: the champion version, the data it
 * was trained on (the drift reference), and its production baseline (the
 * traffic it served in the last canary step). Set by the promotion saga, put
 * back by its compensation.
 */
export const monitorBaselines = pgTable('monitor_baselines', {
  model: text('model')
    .primaryKey()
    .references(() => models.name),
  version: integer('version').notNull(),
  runId: text('run_id'),
  referenceUri: text('reference_uri').notNull(),
  baseline: jsonb('baseline'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The serving gateway's routing for a model: champion plus an optional canary candidate. */
export const routes = pgTable('routes', {
  model: text('model')
    .primaryKey()
    .references(() => models.name),
  championVersion: integer('champion_version'),
  candidateVersion: integer('candidate_version'),
  candidateWeight: doublePrecision('candidate_weight').notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Every prediction the gateway served (or failed to), joined later with ground truth. */
export const predictions = pgTable(
  'predictions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    model: text('model').notNull(),
    version: integer('version').notNull(),
    role: text('role').notNull(),
    requestKey: text('request_key'),
    prediction: doublePrecision('prediction'),
    error: boolean('error').notNull().default(false),
    latencyMs: doublePrecision('latency_ms').notNull(),
    label: integer('label'),
    createdAt: createdAt(),
    labelledAt: timestamp('labelled_at', { withTimezone: true }),
    /** When the routing that chose this version took effect (`routes.updated_at`): the canary step it belongs to. */
    routeSince: timestamp('route_since', { withTimezone: true }),
  },
  // Retention deletes a model's oldest rows; nothing else scans them (the canary reads prediction_stats).
  (t) => [index('predictions_model_time_idx').on(t.model, t.createdAt)],
);

/**
 * Per-version traffic under one routing (a canary step, a promotion), kept by
 * the gateway's prediction writer in the same transaction as the raw rows, so
 * the canary analysis reads a few rows per poll instead of scanning every
 * prediction. `latencies_ms` holds the most recent requests' latencies (at
 * most PREDICTION_STATS_LATENCY_CAP).
 */
export const predictionStats = pgTable(
  'prediction_stats',
  {
    model: text('model').notNull(),
    version: integer('version').notNull(),
    routeSince: timestamp('route_since', { withTimezone: true }).notNull(),
    // 64-bit: a champion's routing can serve for months at thousands of requests a second.
    requests: bigint('requests', { mode: 'number' }).notNull().default(0),
    errors: bigint('errors', { mode: 'number' }).notNull().default(0),
    labelled: bigint('labelled', { mode: 'number' }).notNull().default(0),
    correct: bigint('correct', { mode: 'number' }).notNull().default(0),
    latenciesMs: doublePrecision('latencies_ms').array().notNull().default(sql`'{}'`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.model, t.version, t.routeSince] })],
);

/** Drift reports: a monitor's verdict, or ctloop's own comparison of a batch with the champion's training data. */
export const driftReports = pgTable(
  'drift_reports',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    model: text('model')
      .notNull()
      .references(() => models.name),
    /** `ctloop`: computed here from `currentUri`; `monitor`: statistics sent by a drift monitor. */
    source: text('source').notNull(),
    status: text('status').notNull(),
    currentUri: text('current_uri'),
    referenceUri: text('reference_uri'),
    report: jsonb('report'),
    drifted: boolean('drifted'),
    error: text('error'),
    triggerId: uuid('trigger_id'),
    runId: text('run_id'),
    requestedBy: text('requested_by').notNull(),
    createdAt: createdAt(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
  },
  (t) => [index('drift_reports_model_idx').on(t.model, t.createdAt)],
);

/**
 * Production metrics sent by a monitoring job (accuracy from delayed labels,
 * AUC, RMSE, …), judged by the model's performance policy. Append-only.
 */
export const productionMetrics = pgTable(
  'production_metrics',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    model: text('model')
      .notNull()
      .references(() => models.name),
    /** The version that served the predictions behind the value (the champion when the sender did not say). */
    version: integer('version'),
    metric: text('metric').notNull(),
    value: doublePrecision('value').notNull(),
    /** Share of those predictions that had a label (null: not reported). */
    coverage: doublePrecision('coverage'),
    samples: integer('samples'),
    observedAt: timestamp('observed_at', { withTimezone: true }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    source: text('source').notNull(),
  },
  (t) => [index('production_metrics_model_metric_time_idx').on(t.model, t.metric, t.observedAt)],
);

/**
 * Each look a canary or bake watch took: both versions' traffic so far in the
 * step, the sequential tests' always-valid p-values, and the verdict of that
 * look. The approval pages plot them (error rate and latency per version over
 * time, the sequential test's path); the run's own history keeps only each
 * step's verdict. One row per poll (pollSeconds) while a run is in canary or bake.
 */
export const canaryLooks = pgTable(
  'canary_looks',
  {
    id: serial('id').primaryKey(),
    model: text('model').notNull(),
    runId: uuid('run_id').notNull(),
    mode: text('mode').notNull(),
    /** The candidate's traffic share (%) during the look; 100 in the bake. */
    weight: integer('weight').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    champion: jsonb('champion').notNull(),
    candidate: jsonb('candidate').notNull(),
    /** The sequential tests' p-values after this look (null when the policy's tests are not sequential). */
    errorRateP: doublePrecision('error_rate_p'),
    accuracyP: doublePrecision('accuracy_p'),
    verdict: text('verdict').notNull(),
  },
  (t) => [index('canary_looks_run_idx').on(t.runId, t.id)],
);

export type ModelRow = typeof models.$inferSelect;
export type RunRow = typeof runs.$inferSelect;
export type ModelVersionRow = typeof modelVersions.$inferSelect;
export type TriggerRow = typeof triggers.$inferSelect;
export type AuditEventRow = typeof auditEvents.$inferSelect;
export type RouteRow = typeof routes.$inferSelect;
export type ApprovalDecisionRow = typeof approvalDecisions.$inferSelect;
export type ProductionMetricRow = typeof productionMetrics.$inferSelect;
export type DriftReportRow = typeof driftReports.$inferSelect;
export type CanaryLookRow = typeof canaryLooks.$inferSelect;
