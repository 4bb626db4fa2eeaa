import { createRoute, z } from '@hono/zod-openapi';
import { auditFor, findRun, listRuns } from '../../db/registry';
import { approvalDecisions, auditEvents } from '../../db/schema';
import type { Identity } from '../../domain/roles';
import {
  type CanaryAction,
  controlCanaryUpdate,
  decideUpdate,
  modelStateQuery,
  modelWorkflowId,
  rollbackUpdate,
  runStateQuery,
  runWorkflowId,
} from '../../workflows/messages';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import { ApprovalState, AuditEvent, document, ModelState, orNull, RunRecord, RunState } from '../responses';
import { createRouter } from '../router';
import {
  CancelBody,
  ControlBody,
  DecisionBody,
  errors,
  jsonBody,
  jsonResponse,
  ModelParam,
  RollbackBody,
  RunParams,
  readErrors,
} from '../schemas';

/** A call on a run: the run must exist and still be going; Temporal may refuse or be unreachable. */
const runCallErrors = {
  ...errors(400, 401, 403, 404, 413, 415, 503),
  409: {
    ...errors(409)[409],
    description:
      'The run cannot take it now: `run_ended`, `refused` (the run said why), `not_running`, `duplicate`, `stale_report`',
  },
};

const RunView = RunRecord.extend({
  live: orNull(RunState).openapi({ description: "The workflow's live state while the run goes on" }),
  audit: z.array(AuditEvent),
}).openapi('RunWithState');

import { auditedByRun, temporalCallError } from '../temporal-errors';
import { requireModel } from './models';

/**
 * What the API and the approval pages do with a run: find it, describe it
 * (the record plus the workflow's live state), and decide it. One place, so
 * that a page and an API call meet the same rules and the same answers.
 */
export function runService(deps: ApiDeps) {
  const { db, temporal } = deps;

  const requireRun = async (model: string, runId: string) => {
    await requireModel(deps, model);
    const run = await findRun(db, model, runId);
    if (!run) throw notFound(`run ${runId} of model ${model}`);
    return run;
  };

  /** A run that has not ended yet: what decisions, controls and cancels act on. */
  const requireLiveRun = async (model: string, runId: string) => {
    const run = await requireRun(model, runId);
    if (run.outcome !== null) {
      throw new ApiError(409, 'run_ended', `run ${runId} already ended: ${run.outcome}`);
    }
    return run;
  };

  /** The registry's record, plus the workflow's live state while it runs. */
  const describeRun = async (model: string, runId: string) => {
    const run = await requireRun(model, runId);
    let live = null;
    if (run.outcome === null) {
      try {
        live = await temporal.workflow.getHandle(runWorkflowId(model, runId)).query(runStateQuery);
      } catch {
        live = null; // between workflow tasks or just finished: the record is still right
      }
    }
    return { ...run, live, audit: await auditFor(db, model, runId) };
  };

  /**
   * An approver's decision on a run waiting for one, as the run takes it (an
   * update): the run applies the approval rules (roles, group, four-eyes,
   * deadline, stale report) and answers at once. A refusal is an ApiError
   * (403 for who may not decide, 409 for what the run cannot take now).
   */
  const decideRun = async (
    decision: 'approve' | 'reject',
    model: string,
    runId: string,
    approver: Identity,
    body: { reason?: string; evaluationReportHash?: string },
  ) => {
    const run = await requireLiveRun(model, runId);
    try {
      return await temporal.workflow
        .getHandle(runWorkflowId(model, runId))
        .executeUpdate(decideUpdate, { args: [{ decision, by: approver.name, ...body }] });
    } catch (err) {
      const refused = decisionRefusal(err, decision);
      // The run records what it refused itself; one its validator refused never reached it.
      if (auditedByRun(err)) throw refused;
      await db
        .insert(approvalDecisions)
        .values({
          model,
          runId,
          candidateVersion: run.candidateVersion,
          actor: approver.name,
          role: approver.role,
          decision,
          reason: body.reason ?? null,
          via: 'api',
          evaluationReportHash: body.evaluationReportHash ?? null,
          status: 'refused',
          refusal: refused.message,
        })
        .catch(() => {}); // the answer to the caller matters more than this record
      throw refused;
    }
  };
  return { requireRun, requireLiveRun, describeRun, decideRun };
}

/** Runs: their record, their live state, and the human decisions they wait for. */
export function runRoutes(deps: ApiDeps) {
  const { db, temporal } = deps;
  const { requireLiveRun, describeRun, decideRun } = runService(deps);

  const decide = (decision: 'approve' | 'reject') =>
    createRoute({
      method: 'post',
      path: `/models/{model}/runs/{runId}/${decision}`,
      summary: `${decision === 'approve' ? 'Approve' : 'Reject'} a run waiting for approval (who, and why)`,
      request: { params: RunParams, ...jsonBody(DecisionBody) },
      responses: {
        200: jsonResponse('The decision as recorded by the run', z.object({ approval: ApprovalState })),
        ...runCallErrors,
        403: {
          ...errors(403)[403],
          description:
            'The caller may not decide: `forbidden` (role), `not_eligible` (role or group of this round), `four_eyes`',
        },
      },
    });

  const controlRoute = <A extends CanaryAction>(action: A) =>
    createRoute({
      method: 'post',
      path: `/models/{model}/runs/{runId}/${action}` as const,
      summary: {
        pause: 'Pause the rollout at its current step (a failing candidate is still rolled back)',
        resume: 'Resume a paused rollout',
        abort: 'Abort the rollout: the champion takes all traffic back now',
        'promote-now': 'Promote the candidate now, skipping the remaining canary steps',
      }[action],
      request: { params: RunParams, ...jsonBody(ControlBody) },
      responses: {
        200: jsonResponse(
          'The control as the run applied it',
          z.object({ runId: z.string(), control: document('The control: action, by, reason, when, effect') }),
        ),
        ...runCallErrors,
      },
    });

  const applyControl = async (
    action: CanaryAction,
    { model, runId }: { model: string; runId: string },
    { reason }: { reason?: string },
    operator: Identity,
  ) => {
    await requireLiveRun(model, runId);
    try {
      const applied = await temporal.workflow
        .getHandle(runWorkflowId(model, runId))
        .executeUpdate(controlCanaryUpdate, { args: [{ action, by: operator.name, reason }] });
      return { runId, control: applied };
    } catch (err) {
      const refused = temporalCallError(err, action);
      // The run records what it refused itself; one its validator refused never reached it.
      if (auditedByRun(err)) throw refused;
      await db
        .insert(auditEvents)
        .values({
          model,
          runId,
          kind: 'canary_control_refused',
          actor: operator.name,
          reason: refused.message,
          details: { action, via: 'api' },
        })
        .catch(() => {});
      throw refused;
    }
  };

  // One call per action, chained so that each one's route is part of the app's type.
  const router = createRouter()
    .openapi(controlRoute('pause'), async (c) =>
      c.json(await applyControl('pause', c.req.valid('param'), c.req.valid('json'), callerOf(c)), 200),
    )
    .openapi(controlRoute('resume'), async (c) =>
      c.json(await applyControl('resume', c.req.valid('param'), c.req.valid('json'), callerOf(c)), 200),
    )
    .openapi(controlRoute('abort'), async (c) =>
      c.json(await applyControl('abort', c.req.valid('param'), c.req.valid('json'), callerOf(c)), 200),
    )
    .openapi(controlRoute('promote-now'), async (c) =>
      c.json(await applyControl('promote-now', c.req.valid('param'), c.req.valid('json'), callerOf(c)), 200),
    );

  return router
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}/runs',
        summary: "A model's runs, newest first, and what its workflow is doing",
        request: { params: ModelParam },
        responses: {
          200: jsonResponse(
            'Runs',
            z.object({
              runs: z.array(RunRecord),
              workflow: orNull(ModelState).openapi({
                description: 'null until the model is first triggered',
              }),
            }),
          ),
          ...readErrors,
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        await requireModel(deps, model);
        let state = null;
        try {
          state = await temporal.workflow.getHandle(modelWorkflowId(model)).query(modelStateQuery);
        } catch {
          state = null; // never triggered yet
        }
        return c.json({ runs: await listRuns(db, model), workflow: state }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}/runs/{runId}',
        summary: 'A run: stage, progress, causes, reports, outcome, audit',
        request: { params: RunParams },
        responses: { 200: jsonResponse('The run', RunView), ...readErrors },
      }),
      async (c) => {
        const { model, runId } = c.req.valid('param');
        return c.json(await describeRun(model, runId), 200);
      },
    )
    .openapi(decide('approve'), async (c) => {
      const { model, runId } = c.req.valid('param');
      return c.json(
        { approval: await decideRun('approve', model, runId, callerOf(c), c.req.valid('json')) },
        200,
      );
    })
    .openapi(decide('reject'), async (c) => {
      const { model, runId } = c.req.valid('param');
      return c.json(
        { approval: await decideRun('reject', model, runId, callerOf(c), c.req.valid('json')) },
        200,
      );
    })
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/runs/{runId}/cancel',
        summary:
          'Cancel a run: training stops, routing goes back to the champion, the outcome is `cancelled`',
        request: { params: RunParams, ...jsonBody(CancelBody) },
        responses: {
          202: jsonResponse(
            'Cancellation requested',
            z.object({ runId: z.string(), cancelRequested: z.literal(true) }),
          ),
          ...runCallErrors,
        },
      }),
      async (c) => {
        const { model, runId } = c.req.valid('param');
        const { reason } = c.req.valid('json');
        const by = callerOf(c).name;
        await requireLiveRun(model, runId);
        try {
          await temporal.workflow.getHandle(runWorkflowId(model, runId)).cancel();
        } catch (err) {
          throw temporalCallError(err, 'cancel');
        }
        await db.insert(auditEvents).values({ model, runId, kind: 'cancel_requested', actor: by, reason });
        return c.json({ runId, cancelRequested: true as const }, 202);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/rollback',
        summary: "Roll back the model's run in canary or bake: the previous champion takes all traffic again",
        request: { params: ModelParam, ...jsonBody(RollbackBody) },
        responses: {
          202: jsonResponse(
            'Rollback accepted by the run',
            z.object({ runId: z.string(), accepted: z.literal(true) }),
          ),
          ...errors(400, 401, 403, 404, 413, 415, 503),
          409: {
            ...errors(409)[409],
            description: 'No run in canary or bake (`nothing_to_roll_back`), or the run refused (`refused`)',
          },
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        const body = c.req.valid('json');
        await requireModel(deps, model);
        let current: string | null = null;
        try {
          const state = await temporal.workflow.getHandle(modelWorkflowId(model)).query(modelStateQuery);
          current = state.current?.runId ?? null;
        } catch {
          current = null;
        }
        if (!current)
          throw new ApiError(409, 'nothing_to_roll_back', `model ${model} has no run in canary or bake`);
        try {
          await temporal.workflow
            .getHandle(runWorkflowId(model, current))
            .executeUpdate(rollbackUpdate, { args: [{ by: callerOf(c).name, reason: body.reason }] });
        } catch (err) {
          throw temporalCallError(err, 'rollback');
        }
        return c.json({ runId: current, accepted: true as const }, 202);
      },
    );
}

/**
 * A refused decision as the caller should see it: 403 when this person may
 * not decide (role, group, four-eyes), 409 when the run cannot take it now
 * (duplicate, stale report, not waiting, already decided).
 */
function decisionRefusal(err: unknown, decision: string): ApiError {
  const mapped = temporalCallError(err, decision);
  const type = mapped.details.type;
  if (type === 'not_eligible' || type === 'four_eyes') {
    return new ApiError(403, type, mapped.message, mapped.details);
  }
  if (type === 'duplicate' || type === 'stale_report') {
    return new ApiError(409, type, mapped.message, mapped.details);
  }
  return mapped;
}
