import { type Client, WithStartWorkflowOperation } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import type { Config } from '../config/env';
import type { Db } from '../db/client';
import { findModel } from '../db/registry';
import { triggers } from '../db/schema';
import type { modelWorkflow } from '../workflows';
import {
  ctModelKey,
  type ModelWorkflowInput,
  modelWorkflowId,
  type TriggerAccepted,
  type TriggerCause,
  type TriggerReason,
  triggerUpdate,
} from '../workflows/messages';

export interface TriggerRequest {
  readonly reason: TriggerReason;
  readonly details: Record<string, unknown>;
  readonly dedupKey?: string;
  readonly requestedBy: string;
}

export interface TriggerDeps {
  readonly db: Db;
  readonly temporal: Client;
  readonly taskQueues: Config['taskQueues'];
}

/** Why a trigger was not handed to the model's workflow; the API answers with `status`. */
export class TriggerRefused extends Error {
  constructor(
    readonly status: 404 | 409,
    readonly code: 'not_found' | 'model_frozen',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type TriggerSubmission =
  | {
      status: 202;
      body: { triggerId: string; fate: TriggerAccepted['fate']; runId: string; workflowId: string };
    }
  | {
      status: 200;
      body: { triggerId: string | null; fate: 'deduplicated'; runId: string | null; firstFate?: string };
    };

/**
 * Records a trigger and hands it to the model's workflow (starting that
 * workflow if needed, in the same call). A repeated dedup key is answered with
 * the first trigger's run and changes nothing. Used by the API and by
 * activities that trigger (drift reports).
 */
export async function submitTrigger(
  deps: TriggerDeps,
  model: string,
  request: TriggerRequest,
): Promise<TriggerSubmission> {
  const { db, temporal } = deps;
  const registered = await findModel(db, model);
  if (!registered) throw new TriggerRefused(404, 'not_found', `model ${model} not found`, { model });
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
      status: 200,
      body: {
        triggerId: first?.id ?? null,
        fate: 'deduplicated',
        runId: first?.runId ?? null,
        firstFate: first?.fate,
      },
    };
  }
  if (registered.frozen) {
    throw new TriggerRefused(
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
    throw err;
  }
  await db
    .update(triggers)
    .set({ fate: accepted.fate, runId: accepted.runId })
    .where(eq(triggers.id, row.id));
  return { status: 202, body: { triggerId: row.id, fate: accepted.fate, runId: accepted.runId, workflowId } };
}
