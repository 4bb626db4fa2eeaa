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
  type TriggerCause,
  type TriggerFate,
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
    accepted = await inFlightGate(temporal, model).run(() =>
      temporal.workflow.executeUpdateWithStart(triggerUpdate, {
        args: [cause, context],
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
 * server's `history.maxInFlightUpdates`, 10 by default) and the client's
 * retries of that refusal back off for seconds, so a burst of triggers for one
 * model would crawl and then fail. Each process therefore sends at most this
 * many at a time per model and queues the rest; the model workflow still
 * decides every one of them, in arrival order.
 */
const MAX_IN_FLIGHT_PER_MODEL = 8;

class InFlightGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly onIdle: () => void) {}

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.active >= MAX_IN_FLIGHT_PER_MODEL) await new Promise<void>((r) => this.waiting.push(r));
    else this.active += 1;
    try {
      return await call();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next caller; the count drops only when nobody waits.
      if (next) next();
      else if (--this.active === 0) this.onIdle();
    }
  }
}

const gates = new WeakMap<Client, Map<string, InFlightGate>>();

function inFlightGate(temporal: Client, model: string): InFlightGate {
  let byModel = gates.get(temporal);
  if (!byModel) {
    byModel = new Map();
    gates.set(temporal, byModel);
  }
  let gate = byModel.get(model);
  if (!gate) {
    const models = byModel;
    gate = new InFlightGate(() => models.delete(model));
    byModel.set(model, gate);
  }
  return gate;
}
