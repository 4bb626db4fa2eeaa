import { createRoute, z } from '@hono/zod-openapi';
import { asc, eq, inArray } from 'drizzle-orm';
import { aliasChangesOf, auditFor, evaluationReportHash, findRun, findVersion } from '../../db/registry';
import { approvalDecisions, driftReports, triggers } from '../../db/schema';
import type { ApiDeps } from '../deps';
import { notFound } from '../errors';
import {
  AliasChange,
  ApprovalDecisionRecord,
  AuditEvent,
  document,
  orNull,
  RunRecord,
  TriggerRecord,
  timestamp,
  VersionRecord,
} from '../responses';
import { createRouter } from '../router';
import { jsonResponse, readErrors, VersionParams } from '../schemas';

const Lineage = z
  .object({
    model: z.string(),
    version: VersionRecord.shape.version,
    artifactUri: z.string(),
    createdAt: timestamp,
    run: orNull(
      RunRecord.pick({
        id: true,
        workflowId: true,
        outcome: true,
        outcomeReason: true,
        startedAt: true,
        endedAt: true,
      }),
    ),
    causes: z.object({
      triggers: z.array(TriggerRecord),
      driftReports: z.array(
        z.object({
          id: z.uuid(),
          source: z.string(),
          drifted: z.boolean().nullable(),
          currentUri: z.string().nullable(),
          createdAt: timestamp,
        }),
      ),
    }),
    data: z.object({
      uri: z.string(),
      hash: z.string(),
      validation: document('The validation report'),
      window: document(
        'With a partitioned data source: the window (from, to), each partition (date, rows, SHA-256, train or hold-out) and the content hash',
      ),
    }),
    code: z.object({ version: z.string() }),
    mlflow: document('With CTLOOP_MLFLOW_URI: the MLflow model version (uri, name, version, runId)'),
    params: VersionRecord.shape.params,
    training: z.object({
      metrics: VersionRecord.shape.metrics,
      checkpoints: z.unknown().openapi({ type: 'array', items: { type: 'object' } }),
      lastCheckpoint: document('The last checkpoint: uri and step'),
      attempts: document('Attempts, preemptions, crashes'),
    }),
    evaluation: z.object({ report: VersionRecord.shape.evaluation, hash: z.string().nullable() }),
    approvals: z.object({ decisions: z.array(ApprovalDecisionRecord), outcome: orNull(AuditEvent) }),
    canary: z
      .unknown()
      .openapi({ type: 'array', items: { type: 'object' }, description: 'The canary steps' }),
    rollout: z.object({ aliasChanges: z.array(AliasChange), events: z.array(AuditEvent) }),
  })
  .openapi('Lineage');

import { requireModel } from './models';

interface RunReports {
  /** The training window, for a partitioned data source (activities/data-window.ts). */
  data?: unknown;
  /** Where the version is in MLflow (CTLOOP_MLFLOW_URI): uri, registered model name, version, MLflow run. */
  mlflow?: unknown;
  validation?: unknown;
  training?: { checkpoints?: unknown[]; lastCheckpoint?: unknown } & Record<string, unknown>;
  trainingAttempts?: Record<string, unknown>;
  evaluation?: unknown;
  canary?: unknown[];
}

/** The audit kinds that moved traffic or the champion alias, or say that a promotion was (half-)undone. */
const ROLLOUT_KINDS = [
  'promotion',
  'rollback',
  'routing_restored',
  'champion_restored',
  'promotion_undone',
  'compensation_failed',
];

/**
 * "Why is this version in production?" in one answer: what caused its run,
 * the data, code and parameters, its checkpoints, the evaluation report, the
 * approvals (accepted and refused), the canary steps, and every promotion or
 * rollback that involved it.
 */
export function lineageRoutes(deps: ApiDeps) {
  const { db } = deps;
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/models/{model}/versions/{version}/lineage',
      summary:
        'Lineage of a version: triggers, data hash, code version, parameters, checkpoints, evaluation, approvals, canary, promotions and rollbacks',
      request: { params: VersionParams },
      responses: { 200: jsonResponse('The version’s lineage', Lineage), ...readErrors },
    }),
    async (c) => {
      const { model, version } = c.req.valid('param');
      await requireModel(deps, model);
      const row = await findVersion(db, model, version);
      if (!row) throw notFound(`version ${version} of model ${model}`);
      const run = await findRun(db, model, row.runId);
      const reports = (run?.reports ?? {}) as RunReports;
      const runTriggers = await db
        .select()
        .from(triggers)
        .where(eq(triggers.runId, row.runId))
        .orderBy(asc(triggers.receivedAt));
      const triggerIds = runTriggers.map((t) => t.id);
      const drift =
        triggerIds.length === 0
          ? []
          : await db
              .select({
                id: driftReports.id,
                source: driftReports.source,
                drifted: driftReports.drifted,
                currentUri: driftReports.currentUri,
                createdAt: driftReports.createdAt,
              })
              .from(driftReports)
              .where(inArray(driftReports.triggerId, triggerIds));
      const decisions = await db
        .select()
        .from(approvalDecisions)
        .where(eq(approvalDecisions.runId, row.runId))
        .orderBy(asc(approvalDecisions.at), asc(approvalDecisions.id));
      const aliasChanges = await aliasChangesOf(db, model, version);
      const audit = await auditFor(db, model, row.runId);
      return c.json(
        {
          model,
          version,
          artifactUri: row.artifactUri,
          createdAt: row.createdAt,
          run: run && {
            id: run.id,
            workflowId: run.workflowId,
            outcome: run.outcome,
            outcomeReason: run.outcomeReason,
            startedAt: run.startedAt,
            endedAt: run.endedAt,
          },
          causes: { triggers: runTriggers, driftReports: drift },
          data: {
            uri: row.dataUri,
            hash: row.dataHash,
            validation: reports.validation ?? null,
            window: reports.data ?? null,
          },
          code: { version: row.codeVersion },
          mlflow: reports.mlflow ?? null,
          params: row.params,
          training: {
            metrics: row.metrics,
            checkpoints: reports.training?.checkpoints ?? [],
            lastCheckpoint: reports.training?.lastCheckpoint ?? null,
            attempts: reports.trainingAttempts ?? null,
          },
          evaluation: { report: row.evaluation, hash: evaluationReportHash(row.evaluation) },
          approvals: {
            decisions,
            outcome:
              audit.find((e) => ['approval', 'rejection', 'approval_expired'].includes(e.kind)) ?? null,
          },
          canary: reports.canary ?? [],
          rollout: {
            aliasChanges,
            events: audit.filter((e) => ROLLOUT_KINDS.includes(e.kind)),
          },
        },
        200,
      );
    },
  );
}
