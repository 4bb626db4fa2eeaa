import { type Client, WithStartWorkflowOperation } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import type { Config } from '../config/env';
import type { Db } from '../db/client';
import { findModel } from '../db/registry';
import { type ModelRow, triggers } from '../db/schema';
import { parsePolicy } from '../domain/policy';
import type { modelWorkflow } from '../workflows';
import {
  ctModelKey,
  type ModelWorkflowInput,
  modelWorkflowId,
  type TriggerAccepted,
  type TriggerBatchItem,
  type TriggerCause,
  type TriggerFate,
  type TriggerReason,
  triggerBatchUpdate,
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
    readonly status: 404,
    readonly code: 'not_found',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Fates that put the trigger into a run (now or as the follow-up); the others changed nothing. */
const ACCEPTED_FATES: ReadonlySet<TriggerFate> = new Set(['started', 'queued', 'joined', 'held']);

export interface TriggerSubmission {
  /** 202: the trigger is part of a run; 200: deduplicated or suppressed, nothing new happened. */
  readonly status: 200 | 202;
  readonly body: {
    readonly triggerId: string;
    readonly fate: TriggerFate;
    readonly runId: string | null;
    readonly workflowId: string;
    /** Why it was held, deduplicated or suppressed. */
    readonly reason?: string;
    /** For `deduplicated`: the earlier trigger with the same dedup key. */
    readonly duplicateOf?: string;
  };
}

/**
 * The start half of an update-with-start on the model's workflow (a fresh one
 * per call: an operation is used once). A workflow started here begins with
 * the registry's freeze state; a running one keeps its own.
 */
export function modelWorkflowStart(deps: TriggerDeps, model: ModelRow) {
  const input: ModelWorkflowInput = {
    model: model.name,
    trainTaskQueue: deps.taskQueues.train,
    gpuTrainTaskQueue: deps.taskQueues.gpuTrain,
    freeze: { frozen: model.frozen, reason: model.frozenReason, by: null, at: null },
  };
  return new WithStartWorkflowOperation<typeof modelWorkflow>('modelWorkflow', {
    workflowId: modelWorkflowId(model.name),
    taskQueue: deps.taskQueues.control,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: ctModelKey, value: model.name }],
  });
}

/**
 * Records a trigger and hands it to the model's workflow (starting that
 * workflow if needed, in the same call), which decides its fate: dedup,
 * freeze, cooldown, budget, follow-up (domain/trigger-governance.ts). Every
 * trigger gets its own row with the fate, the run and the reason. Used by the
 * API and by activities that trigger (drift reports).
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
      fate: 'received',
    })
    .returning();
  const cause: TriggerCause = {
    triggerId: row!.id,
    reason: request.reason,
    requestedBy: request.requestedBy,
    details: request.details,
    receivedAt: row!.receivedAt.toISOString(),
  };
  const context = { dedupKey: request.dedupKey ?? null, policy: parsePolicy(registered.policy).triggers };
  let accepted: TriggerAccepted;
  try {
    accepted = await batcherFor(temporal, model).submit({ cause, context }, (items) =>
      temporal.workflow.executeUpdateWithStart(triggerBatchUpdate, {
        args: [items],
        startWorkflowOperation: modelWorkflowStart(deps, registered),
      }),
    );
  } catch (err) {
    await db.update(triggers).set({ fate: 'failed_to_deliver' }).where(eq(triggers.id, row!.id));
    throw err;
  }
  await db
    .update(triggers)
    .set({ fate: accepted.fate, runId: accepted.runId, fateReason: describeFate(accepted) })
    .where(eq(triggers.id, row!.id));
  return {
    status: ACCEPTED_FATES.has(accepted.fate) ? 202 : 200,
    body: { triggerId: row!.id, ...accepted, workflowId: modelWorkflowId(model) },
  };
}

function describeFate(accepted: TriggerAccepted): string | null {
  if (accepted.duplicateOf) return `duplicate of trigger ${accepted.duplicateOf}`;
  return accepted.reason ?? null;
}

/**
 * Temporal refuses more than a few concurrent updates per workflow (the
 * server's `history.maxInFlightUpdates`, 10 by default) and accepts at most
 * 2,000 per execution, and the model workflow can continue as new only
 * between runs. So each process sends a model's triggers as batches: at most
 * MAX_IN_FLIGHT_PER_MODEL updates in flight, and whatever arrives meanwhile
 * goes, in arrival order, into the next one. A quiet model sends one trigger
 * per update at once; under a storm one update carries many.
 */
const MAX_IN_FLIGHT_PER_MODEL = 2;
const MAX_BATCH = 200;

type SendBatch = (items: TriggerBatchItem[]) => Promise<TriggerAccepted[]>;

interface Waiting {
  readonly item: TriggerBatchItem;
  readonly send: SendBatch;
  resolve(accepted: TriggerAccepted): void;
  reject(err: unknown): void;
}

class TriggerBatcher {
  private active = 0;
  private readonly queue: Waiting[] = [];

  constructor(private readonly onIdle: () => void) {}

  submit(item: TriggerBatchItem, send: SendBatch): Promise<TriggerAccepted> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, send, resolve, reject });
      this.flush();
    });
  }

  private flush(): void {
    while (this.active < MAX_IN_FLIGHT_PER_MODEL && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.active += 1;
      // Every item of a batch carries the same sender (the model's update-with-start); the first one's is used.
      batch[0]!
        .send(batch.map((w) => w.item))
        .then(
          (results) => {
            for (const [i, w] of batch.entries()) w.resolve(results[i]!);
          },
          (err) => {
            for (const w of batch) w.reject(err);
          },
        )
        .finally(() => {
          this.active -= 1;
          if (this.queue.length > 0) this.flush();
          else if (this.active === 0) this.onIdle();
        });
    }
  }
}

const batchers = new WeakMap<Client, Map<string, TriggerBatcher>>();

function batcherFor(temporal: Client, model: string): TriggerBatcher {
  let byModel = batchers.get(temporal);
  if (!byModel) {
    byModel = new Map();
    batchers.set(temporal, byModel);
  }
  let batcher = byModel.get(model);
  if (!batcher) {
    const models = byModel;
    batcher = new TriggerBatcher(() => models.delete(model));
    byModel.set(model, batcher);
  }
  return batcher;
}
