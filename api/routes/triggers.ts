import { createRoute } from '@hono/zod-openapi';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { triggers } from '../../db/schema';
import type { modelWorkflow } from '../../workflows';
import {
  ctModelKey,
  type ModelWorkflowInput,
  modelWorkflowId,
  type TriggerAccepted,
  type TriggerCause,
  triggerUpdate,
} from '../../workflows/messages';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { createRouter } from '../router';
import { errorResponses, jsonBody, jsonResponse, ModelParam, TriggerBody } from '../schemas';
import { temporalCallError } from '../temporal-errors';
import { requireModel } from './models';

type TriggerRequest = ReturnType<typeof TriggerBody.parse>;

/**
 * Records a trigger and hands it to the model's workflow (starting that
 * workflow if needed, in the same call). A repeated dedup key is answered with
 * the first trigger's run and changes nothing.
 */
export async function submitTrigger(deps: ApiDeps, model: string, request: TriggerRequest) {
  const { db, temporal } = deps;
  const registered = await requireModel(deps, model);
  const [row] = await db
    .insert(triggers)
    .values({
      model,
      reason: request.reason,
      details: request.details,
      dedupKey: request.dedupKey ?? null,
      requestedBy: request.requestedBy,
      fate: registered.frozen ? 'rejected_frozen' : 'received',
    })
    .onConflictDoNothing()
    .returning();
  if (!row) {
    const [first] = await db
      .select()
      .from(triggers)
      .where(and(eq(triggers.model, model), eq(triggers.dedupKey, request.dedupKey!)));
    return {
      status: 200 as const,
      body: {
        triggerId: first?.id ?? null,
        fate: 'deduplicated',
        runId: first?.runId ?? null,
        firstFate: first?.fate,
      },
    };
  }
  if (registered.frozen) {
    throw new ApiError(
      409,
      'model_frozen',
      `model ${model} is frozen: ${registered.frozenReason ?? 'no reason given'}`,
      {
        triggerId: row.id,
      },
    );
  }
  const cause: TriggerCause = {
    triggerId: row.id,
    reason: request.reason,
    requestedBy: request.requestedBy,
    details: request.details,
    receivedAt: row.receivedAt.toISOString(),
  };
  const workflowId = modelWorkflowId(model);
  const input: ModelWorkflowInput = {
    model,
    trainTaskQueue: deps.taskQueues.train,
    gpuTrainTaskQueue: deps.taskQueues.gpuTrain,
  };
  let accepted: TriggerAccepted;
  try {
    accepted = await temporal.workflow.executeUpdateWithStart(triggerUpdate, {
      args: [cause],
      startWorkflowOperation: new WithStartWorkflowOperation<typeof modelWorkflow>('modelWorkflow', {
        workflowId,
        taskQueue: deps.taskQueues.control,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: [{ key: ctModelKey, value: model }],
      }),
    });
  } catch (err) {
    await db.update(triggers).set({ fate: 'failed_to_deliver' }).where(eq(triggers.id, row.id));
    throw temporalCallError(err, 'trigger');
  }
  await db
    .update(triggers)
    .set({ fate: accepted.fate, runId: accepted.runId })
    .where(eq(triggers.id, row.id));
  return {
    status: 202 as const,
    body: { triggerId: row.id, fate: accepted.fate, runId: accepted.runId, workflowId },
  };
}

export function triggerRoutes(deps: ApiDeps) {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/models/{model}/triggers',
      summary:
        'Ask for a retrain (drift, schedule, performance, manual); answers with the run it started or joined',
      request: { params: ModelParam, ...jsonBody(TriggerBody) },
      responses: {
        202: jsonResponse('Accepted: the run this trigger started, or the follow-up run it joined'),
        200: jsonResponse('Duplicate dedupKey: nothing new happened'),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { status, body } = await submitTrigger(deps, c.req.valid('param').model, c.req.valid('json'));
      return c.json(body, status);
    },
  );
}
