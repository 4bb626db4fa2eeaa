import { createRoute, z } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import { auditEvents, type ModelRow, models } from '../../db/schema';
import { modelWorkflowStart } from '../../triggers/submit-trigger';
import { type FreezeRequest, freezeUpdate, type ModelState } from '../../workflows/messages';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { timestamp } from '../responses';
import { createRouter } from '../router';
import { errors, jsonBody, jsonResponse, ModelParam, writeErrors } from '../schemas';
import { temporalCallError } from '../temporal-errors';
import { requireModel } from './models';

const FreezeBody = z
  .object({ reason: z.string().trim().min(1).max(2000) })
  .openapi('Freeze', { example: { reason: 'incident 4711: bad labels upstream' } });

const UnfreezeBody = z
  .object({ reason: z.string().max(2000).optional() })
  .openapi('Unfreeze', { example: { reason: 'labels fixed' } });

const FreezeAnswer = z
  .object({
    model: z.string(),
    frozen: z.boolean(),
    reason: z.string().nullable(),
    by: z.string().nullable(),
    at: timestamp.nullable(),
    currentRunId: z.string().nullable(),
    followUpRunId: z.string().nullable(),
  })
  .openapi('FreezeState');

const freezeErrors = {
  ...writeErrors,
  409: { ...errors(409)[409], description: 'The model workflow refused the change (`refused`)' },
};

/**
 * Freezing a model: its triggers are still recorded (fate `suppressed`,
 * reason `frozen: …`) but no run starts, and a follow-up waits, until it is
 * unfrozen; the run in progress is told (`modelFreeze` signal) and does not
 * promote. Operators (and admins) may freeze; the caller's identity is the actor. The registry is written first, then the model workflow, which is
 * the one that enforces it; repeating a request is harmless, so a caller that
 * saw an error retries it.
 */
export function freezeRoutes(deps: ApiDeps) {
  const { db, temporal } = deps;

  async function setFreeze(registered: ModelRow, request: FreezeRequest) {
    const { frozen, reason, by } = request;
    await db.transaction(async (tx) => {
      await tx
        .update(models)
        .set({ frozen, frozenReason: frozen ? reason : null, updatedAt: new Date() })
        .where(eq(models.name, registered.name));
      await tx.insert(auditEvents).values({
        model: registered.name,
        kind: frozen ? 'model_frozen' : 'model_unfrozen',
        actor: by ?? 'unknown',
        reason,
        details: { wasFrozen: registered.frozen, previousReason: registered.frozenReason },
      });
    });
    let state: ModelState;
    try {
      state = await temporal.workflow.executeUpdateWithStart(freezeUpdate, {
        args: [request],
        startWorkflowOperation: modelWorkflowStart(deps, { ...registered, frozen, frozenReason: reason }),
      });
    } catch (err) {
      throw temporalCallError(err, frozen ? 'freeze' : 'unfreeze');
    }
    return {
      model: registered.name,
      ...state.freeze,
      currentRunId: state.current?.runId ?? null,
      followUpRunId: state.pending?.runId ?? null,
    };
  }

  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/freeze',
        summary:
          'Freeze a model: triggers are recorded as suppressed, no run starts or promotes until unfrozen',
        request: { params: ModelParam, ...jsonBody(FreezeBody) },
        responses: {
          200: jsonResponse('The freeze as the model workflow holds it', FreezeAnswer),
          ...freezeErrors,
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        const { reason } = c.req.valid('json');
        const registered = await requireModel(deps, model);
        return c.json(await setFreeze(registered, { frozen: true, reason, by: callerOf(c).name }), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/unfreeze',
        summary: 'Lift a freeze: a waiting follow-up run may start, new triggers are governed as usual',
        request: { params: ModelParam, ...jsonBody(UnfreezeBody) },
        responses: {
          200: jsonResponse('The model workflow no longer holds a freeze', FreezeAnswer),
          ...freezeErrors,
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        const { reason } = c.req.valid('json');
        const registered = await requireModel(deps, model);
        const request = { frozen: false, reason: reason ?? null, by: callerOf(c).name };
        return c.json(await setFreeze(registered, request), 200);
      },
    );
}
