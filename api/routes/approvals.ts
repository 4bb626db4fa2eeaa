import { createRoute } from '@hono/zod-openapi';
import { and, asc, eq, isNull } from 'drizzle-orm';
import { runs } from '../../db/schema';
import { runStateQuery, runWorkflowId } from '../../workflows/messages';
import type { ApiDeps } from '../deps';
import { createRouter } from '../router';
import { jsonResponse } from '../schemas';

/** What an approver needs to decide, for every run waiting for a decision, oldest first. */
export function approvalRoutes(deps: ApiDeps) {
  const { db, temporal } = deps;
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/approvals',
      summary:
        'Pending approvals: model, run, causes, candidate vs champion metrics, the evaluation decision, the deadline',
      responses: { 200: jsonResponse('Runs waiting for a human decision') },
    }),
    async (c) => {
      const waiting = await db
        .select()
        .from(runs)
        .where(and(eq(runs.stage, 'approve'), isNull(runs.outcome)))
        .orderBy(asc(runs.startedAt));
      const approvals = await Promise.all(
        waiting.map(async (run) => {
          const evaluation = (run.reports as { evaluation?: Record<string, unknown> }).evaluation as
            | {
                candidate?: unknown;
                champion?: unknown;
                verdict?: unknown;
                candidateVersion?: number;
                championVersion?: number | null;
              }
            | undefined;
          let deadline: string | null = null;
          try {
            const state = await temporal.workflow
              .getHandle(runWorkflowId(run.model, run.id))
              .query(runStateQuery);
            deadline = state.approval.deadline;
          } catch {
            deadline = null; // the run moved on between the read and the query
          }
          return {
            model: run.model,
            runId: run.id,
            causes: run.causes,
            candidateVersion: evaluation?.candidateVersion ?? null,
            championVersion: evaluation?.championVersion ?? null,
            candidate: evaluation?.candidate ?? null,
            champion: evaluation?.champion ?? null,
            evaluation: evaluation?.verdict ?? null,
            deadline,
            approve: `/v1/models/${run.model}/runs/${run.id}/approve`,
            reject: `/v1/models/${run.model}/runs/${run.id}/reject`,
          };
        }),
      );
      return c.json({ approvals }, 200);
    },
  );
}
