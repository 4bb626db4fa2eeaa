import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, inArray, isNull } from 'drizzle-orm';
import { evaluationReportHash, findModel } from '../../db/registry';
import { runs } from '../../db/schema';
import { openLevel, refuseDecision } from '../../domain/approval';
import type { Identity } from '../../domain/roles';
import type { TriggerCause } from '../../workflows/messages';
import { runStateQuery, runWorkflowId } from '../../workflows/messages';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApprovalState, documentOrNull, timestamp } from '../responses';
import { createRouter } from '../router';
import { errors, jsonResponse } from '../schemas';

const PendingApproval = z
  .object({
    model: z.string(),
    runId: z.string(),
    purpose: z.enum(['promotion', 'canary']),
    question: z.string().nullable(),
    causes: z
      .unknown()
      .openapi({ type: 'array', items: { type: 'object' }, description: 'The run’s triggers' }),
    candidateVersion: z.number().int().nullable(),
    championVersion: z.number().int().nullable(),
    candidate: documentOrNull('Candidate metrics on the hold-out set'),
    champion: documentOrNull('Champion metrics on the same hold-out set'),
    evaluation: documentOrNull('The evaluation decision'),
    statistics: documentOrNull('The paired test and its statistics'),
    evaluationReportHash: z.string().nullable(),
    deadline: timestamp.nullable(),
    reminderAt: timestamp.nullable(),
    level: ApprovalState.shape.level,
    needed: z.number().int().nullable(),
    role: z.string().nullable(),
    group: z.string().nullable(),
    votes: ApprovalState.shape.votes,
    youMayDecide: z.boolean(),
    whyNot: z.string().nullable(),
    approve: z.string().openapi({ description: 'Path to POST an approval to' }),
    reject: z.string().openapi({ description: 'Path to POST a rejection to' }),
  })
  .openapi('PendingApproval');

interface EvaluationSummary {
  candidate?: unknown;
  champion?: unknown;
  verdict?: unknown;
  gate?: unknown;
  candidateVersion?: number;
  championVersion?: number | null;
}

/**
 * The approver's inbox: every run waiting for a decision, oldest first, with
 * what an approver needs (model, causes, candidate vs champion metrics, the
 * evaluation decision and its statistics, the report's hash, the deadline,
 * the votes so far) and whether the caller may decide it.
 */
export function approvalRoutes(deps: ApiDeps) {
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/approvals',
      summary:
        'Pending approvals: model, run, causes, candidate vs champion metrics, the evaluation decision, the deadline, votes so far',
      responses: {
        200: jsonResponse(
          'Runs waiting for a human decision',
          z.object({ approvals: z.array(PendingApproval) }),
        ),
        ...errors(401, 503),
      },
    }),
    async (c) => c.json({ approvals: await pendingApprovals(deps, callerOf(c)) }, 200),
  );
}

/**
 * Every run waiting for a human decision, oldest first, with what an approver
 * needs and whether `caller` may decide it (the rules the run applies). The
 * inbox of the API and of the approval pages.
 */
export async function pendingApprovals(deps: Pick<ApiDeps, 'db' | 'temporal'>, caller: Identity) {
  const { db, temporal } = deps;
  const waiting = await db
    .select()
    .from(runs)
    .where(and(inArray(runs.stage, ['approve', 'canary']), isNull(runs.outcome)))
    .orderBy(asc(runs.startedAt));
  const approvals = await Promise.all(
    waiting.map(async (run) => {
      const evaluation = (run.reports as { evaluation?: EvaluationSummary }).evaluation;
      let live = null;
      try {
        live = await temporal.workflow.getHandle(runWorkflowId(run.model, run.id)).query(runStateQuery);
      } catch {
        live = null; // the run moved on between the read and the query
      }
      const approval = live?.approval ?? null;
      const registeredBy = (await findModel(db, run.model))?.createdBy ?? null;
      const level = approval ? openLevel(approval) : null;
      // The same rules the run applies, with the round's own four-eyes setting.
      const refusal =
        approval && level
          ? refuseDecision(
              { approver: caller, name: caller.name, decision: 'approve' },
              {
                level,
                votes: approval.votes,
                fourEyes: approval.fourEyes,
                triggeredBy: (run.causes as TriggerCause[]).map((cause) => cause.requestedBy),
                registeredBy,
                evaluationReportHash: approval.evaluationReportHash,
              },
            )
          : null;
      // A run in canary is listed only while it asks a human about an inconclusive step.
      if (run.stage === 'canary' && !(approval?.purpose === 'canary' && approval.decision === null))
        return null;
      return {
        model: run.model,
        runId: run.id,
        purpose: approval?.purpose ?? 'promotion',
        question: approval?.question ?? null,
        causes: run.causes,
        candidateVersion: evaluation?.candidateVersion ?? null,
        championVersion: evaluation?.championVersion ?? null,
        candidate: evaluation?.candidate ?? null,
        champion: evaluation?.champion ?? null,
        evaluation: evaluation?.verdict ?? null,
        statistics: evaluation?.gate ?? null,
        evaluationReportHash: approval?.evaluationReportHash ?? evaluationReportHash(evaluation),
        deadline: approval?.deadline ?? null,
        reminderAt: approval?.reminderAt ?? null,
        level: approval?.level ?? null,
        needed: approval?.needed ?? null,
        role: approval?.role ?? null,
        group: approval?.group ?? null,
        votes: approval?.votes ?? [],
        youMayDecide: refusal === null && approval !== null,
        whyNot: refusal?.message ?? null,
        approve: `/v1/models/${run.model}/runs/${run.id}/approve`,
        reject: `/v1/models/${run.model}/runs/${run.id}/reject`,
      };
    }),
  );
  return approvals.filter((a) => a !== null);
}
