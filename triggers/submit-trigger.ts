import {
  type Client,
  ServiceError,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { and, desc, eq, inArray, or, sql } from 'drizzle-orm';
import type { Config } from '../config/env';
import type { Db } from '../db/client';
import { findModel } from '../db/registry';
import { type ModelRow, triggers } from '../db/schema';
import { jsonBytes } from '../domain/json-bytes';
import { parseTriggerPolicy } from '../domain/policy';
import type { modelWorkflow } from '../workflows';
import {
  ctModelKey,
  type ModelWorkflowInput,
  modelWorkflowId,
  type TriggerAccepted,
  type TriggerBatchItem,
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
 * workflow if needed), which decides its fate: dedup, freeze, cooldown,
 * budget, follow-up (domain/trigger-governance.ts). Every trigger gets its own
 * row with the fate, the run and the reason. Used by the API and by activities
 * that trigger (drift reports, schedules).
 *
 * Triggers for one model that arrive together travel together (TriggerBatcher):
 * one registry read, one insert, one workflow update and one fate update per
 * batch, so a storm of alerts costs a few statements per batch, not per alert.
 */
export async function submitTrigger(
  deps: TriggerDeps,
  model: string,
  request: TriggerRequest,
): Promise<TriggerSubmission> {
  const { triggerId, accepted } = await batcherFor(deps.temporal, model).submit(
    request,
    deliveryOf(deps, model),
  );
  return {
    status: ACCEPTED_FATES.has(accepted.fate) ? 202 : 200,
    body: { triggerId, ...accepted, workflowId: modelWorkflowId(model) },
  };
}

interface Delivered {
  readonly triggerId: string;
  readonly accepted: TriggerAccepted;
}

/** Each request's own outcome: one bad trigger does not fail the others of its batch. */
type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** Triggers stored for one model, with the registry row they were stored against. */
interface Stored {
  readonly registered: ModelRow;
  readonly rows: Outcome<StoredTrigger>[];
}

/**
 * The three steps of a batch, which the batcher overlaps: `store` records the
 * triggers (throws, for the whole batch, when the model is not registered),
 * `send` hands stored triggers to the model's workflow in one update (throws
 * when the workflow cannot be reached; their fates are then stored as
 * `failed_to_deliver`), `settle` stores the fates it answered.
 */
interface ModelDelivery {
  store(requests: readonly TriggerRequest[]): Promise<Stored>;
  send(
    registered: ModelRow,
    rows: readonly StoredTrigger[],
    recorded: readonly string[],
  ): Promise<TriggerAccepted[]>;
  settle(
    model: string,
    rows: readonly StoredTrigger[],
    accepted: TriggerAccepted[],
  ): Promise<TriggerAccepted[]>;
}

function deliveryOf(deps: TriggerDeps, model: string): ModelDelivery {
  return {
    async store(requests) {
      const registered = await findModel(deps.db, model);
      if (!registered) throw new TriggerRefused(404, 'not_found', `model ${model} not found`, { model });
      const inserted = await insertTriggers(deps.db, model, requests);
      return {
        registered,
        rows: inserted.map((row, i) =>
          row.ok ? { ok: true, value: { ...row.value, request: requests[i]! } } : row,
        ),
      };
    },
    send: (registered, rows, recorded) =>
      sendStored(deps, registered, rows, { onFailure: 'record', recorded }),
    settle: (name, rows, accepted) => settleStored(deps, name, rows, accepted),
  };
}

/** A trigger row as stored, before or after its delivery. */
export interface StoredTrigger {
  readonly id: string;
  readonly receivedAt: Date;
  readonly request: TriggerRequest;
}

/** How a delivery of stored triggers goes. */
export interface DeliveryOptions {
  /**
   * When the workflow cannot be reached: `record` stores `failed_to_deliver`
   * (the caller is told so); `leave` keeps the rows `received`, for the
   * reconciler to try again.
   */
  readonly onFailure: 'record' | 'leave';
  /** Triggers delivered before whose fates are stored, for the workflow's ledger. */
  readonly recorded?: readonly string[];
}

/**
 * Hands stored triggers to their model's workflow in one update and stores
 * the fates it answers. A trigger the workflow has answered before (the
 * same id) gets the same answer again (domain/trigger-ledger.ts), so
 * delivering a stored trigger twice is safe.
 */
export async function deliverStored(
  deps: TriggerDeps,
  registered: ModelRow,
  rows: readonly StoredTrigger[],
  opts: DeliveryOptions,
): Promise<TriggerAccepted[]> {
  const accepted = await sendStored(deps, registered, rows, opts);
  return settleStored(deps, registered.name, rows, accepted);
}

/** The update half of deliverStored: the workflow's answers, not yet stored. */
async function sendStored(
  deps: TriggerDeps,
  registered: ModelRow,
  rows: readonly StoredTrigger[],
  opts: DeliveryOptions,
): Promise<TriggerAccepted[]> {
  const policy = parseTriggerPolicy(registered.policy);
  const items: TriggerBatchItem[] = rows.map(({ id, receivedAt, request }) => ({
    cause: {
      triggerId: id,
      reason: request.reason,
      requestedBy: request.requestedBy,
      details: request.details,
      receivedAt: receivedAt.toISOString(),
    },
    context: { dedupKey: request.dedupKey ?? null, policy },
  }));
  try {
    return await sendToModelWorkflow(deps, registered, items, opts.recorded ?? []);
  } catch (err) {
    if (opts.onFailure === 'record') {
      const ids = rows.map((r) => r.id);
      await deps.db.update(triggers).set({ fate: 'failed_to_deliver' }).where(inArray(triggers.id, ids));
    }
    throw err;
  }
}

/** The store half of deliverStored: fills in `duplicateOf` and stores the fates. */
async function settleStored(
  deps: TriggerDeps,
  model: string,
  rows: readonly StoredTrigger[],
  accepted: TriggerAccepted[],
): Promise<TriggerAccepted[]> {
  const settled = await withDuplicateOf(deps.db, model, rows, accepted);
  await recordFates(
    deps.db,
    rows.map((r) => r.id),
    settled,
  );
  return settled;
}

/**
 * Fills in `duplicateOf` where the workflow answered `deduplicated` by a run
 * alone: its dedup keys carried over from an earlier execution come without
 * the triggers that brought them (domain/trigger-governance.ts, DedupCarry).
 * That trigger is the latest of the model with the same key that became part
 * of that run; one whose fate was never stored is not found, and the answer
 * stays without it.
 */
async function withDuplicateOf(
  db: Db,
  model: string,
  rows: readonly StoredTrigger[],
  accepted: TriggerAccepted[],
): Promise<TriggerAccepted[]> {
  // Per trigger, the key and run to look up (null: nothing to fill in).
  const lookups = accepted.map((a, i) => {
    const dedupKey = rows[i]!.request.dedupKey;
    return a.fate === 'deduplicated' && !a.duplicateOf && a.runId !== null && dedupKey !== undefined
      ? { pair: JSON.stringify([dedupKey, a.runId]), dedupKey, runId: a.runId }
      : null;
  });
  const wanted = new Map(lookups.flatMap((l) => (l === null ? [] : [[l.pair, l] as const])));
  if (wanted.size === 0) return accepted;
  const found = await db
    .selectDistinctOn([triggers.dedupKey, triggers.runId], {
      dedupKey: triggers.dedupKey,
      runId: triggers.runId,
      id: triggers.id,
    })
    .from(triggers)
    .where(
      and(
        eq(triggers.model, model),
        inArray(triggers.fate, [...ACCEPTED_FATES]),
        or(
          ...[...wanted.values()].map((w) =>
            and(eq(triggers.dedupKey, w.dedupKey), eq(triggers.runId, w.runId)),
          ),
        ),
      ),
    )
    .orderBy(triggers.dedupKey, triggers.runId, desc(triggers.receivedAt));
  const byPair = new Map(found.map((r) => [JSON.stringify([r.dedupKey, r.runId]), r.id]));
  return accepted.map((a, i) => {
    const id = lookups[i] && byPair.get(lookups[i].pair);
    return id ? { ...a, duplicateOf: id } : a;
  });
}

/**
 * One insert for the batch. Should Postgres refuse it (a NUL character in
 * someone's details, say), each trigger is inserted on its own, so that only
 * the bad one fails and the others of its batch go on.
 */
async function insertTriggers(
  db: Db,
  model: string,
  requests: readonly TriggerRequest[],
): Promise<Outcome<{ id: string; receivedAt: Date }>[]> {
  const values = requests.map((request) => ({
    model,
    reason: request.reason,
    details: request.details,
    dedupKey: request.dedupKey ?? null,
    requestedBy: request.requestedBy,
    fate: 'received',
  }));
  const returned = { id: triggers.id, receivedAt: triggers.receivedAt };
  try {
    const rows = await db.insert(triggers).values(values).returning(returned);
    return rows.map((value) => ({ ok: true, value }));
  } catch (err) {
    if (values.length === 1) return [{ ok: false, error: err }];
    const settled = await Promise.allSettled(
      values.map(async (value) => (await db.insert(triggers).values(value).returning(returned))[0]!),
    );
    return settled.map((s) =>
      s.status === 'fulfilled' ? { ok: true, value: s.value } : { ok: false, error: s.reason },
    );
  }
}

/**
 * A plain update of the running model workflow; only when there is none
 * (the model's first trigger, or its workflow was terminated) an
 * update-with-start, which costs the server more.
 *
 * Retried, a few times within a second, when the server aborted the update
 * because the workflow task carrying it failed: the task that takes the last
 * update of an execution also continues as new, and a signal from the run
 * arriving meanwhile fails that task (Temporal's "unhandled command") and with
 * it the update. The workflow applied nothing, and a trigger it has answered
 * before gets the same answer again, so sending the batch again is safe.
 */
async function sendToModelWorkflow(
  deps: TriggerDeps,
  model: ModelRow,
  items: TriggerBatchItem[],
  recorded: readonly string[],
): Promise<TriggerAccepted[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await updateModelWorkflow(deps, model, items, recorded);
    } catch (err) {
      if (attempt >= UPDATE_ATTEMPTS || !abortedByTaskFailure(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, UPDATE_RETRY_MS * 2 ** (attempt - 1)));
    }
  }
}

/** Tries of an update the server aborted with its workflow task (waits 50, 100, 200 ms between). */
const UPDATE_ATTEMPTS = 4;
const UPDATE_RETRY_MS = 50;
/** gRPC FAILED_PRECONDITION: Temporal's WorkflowNotReady. */
const FAILED_PRECONDITION = 9;

/** The server's answer when the workflow task that carried an update failed (not the workflow refusing it). */
export function abortedByTaskFailure(err: unknown): boolean {
  if (!(err instanceof ServiceError)) return false;
  const cause = err.cause as { code?: unknown; details?: unknown } | undefined;
  return (
    cause?.code === FAILED_PRECONDITION && /unexpected workflow task failure/i.test(String(cause.details))
  );
}

async function updateModelWorkflow(
  deps: TriggerDeps,
  model: ModelRow,
  items: TriggerBatchItem[],
  recorded: readonly string[],
): Promise<TriggerAccepted[]> {
  const { temporal } = deps;
  try {
    return await temporal.workflow.getHandle(modelWorkflowId(model.name)).executeUpdate(triggerBatchUpdate, {
      args: [items, recorded],
    });
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  return temporal.workflow.executeUpdateWithStart(triggerBatchUpdate, {
    args: [items, recorded],
    startWorkflowOperation: modelWorkflowStart(deps, model),
  });
}

/** The fates of a batch in one statement. */
export async function recordFates(
  db: Db,
  ids: readonly string[],
  accepted: readonly TriggerAccepted[],
): Promise<void> {
  const rows = ids.map(
    (id, i) => sql`(${id}::uuid, ${accepted[i]!.fate}, ${accepted[i]!.runId}, ${describeFate(accepted[i]!)})`,
  );
  await db.execute(sql`
    update ${triggers} set fate = v.fate, run_id = v.run_id, fate_reason = v.fate_reason
    from (values ${sql.join(rows, sql`, `)}) as v(id, fate, run_id, fate_reason)
    where ${triggers.id} = v.id`);
}

function describeFate(accepted: TriggerAccepted): string | null {
  if (accepted.duplicateOf) return `duplicate of trigger ${accepted.duplicateOf}`;
  return accepted.reason ?? null;
}

/**
 * Temporal refuses more than a few concurrent updates per workflow (the
 * server's `history.maxInFlightUpdates`, 10 by default) and accepts at most
 * 2,000 per execution, after which the model workflow must continue as
 * new (which holds up the triggers meanwhile). So each process sends a
 * model's triggers as batches, one update in flight at a time, and whatever
 * arrives meanwhile goes, in arrival order, into the next one. A quiet model
 * sends each trigger at once, alone; under a storm a batch carries
 * everything that arrived during the previous update. One update at a time
 * rather than two: each update costs the Temporal server and the worker about
 * the same whatever its size (some 13 and 6 ms of CPU on the benchmark
 * machine), so fewer, fuller updates are what keeps the latency low on a busy
 * machine. At 100 triggers/s (bench/trigger-load.ts) two at a time made the
 * batches smaller (1.7 triggers instead of 2.0), the API and the worker spend
 * about 15% more CPU per trigger, and the median latency rise by 40%.
 *
 * The Postgres steps of a batch stay off that one lane: triggers that arrive
 * during an update are stored meanwhile (one insert for all of them, one
 * store at a time), so that the next update can go as soon as the previous
 * one answers; and each batch's fates are stored after its update has
 * answered, while the next update is under way.
 */
const MAX_BATCH = 200;
/**
 * A batch's triggers take at most this many bytes as JSON (one larger trigger goes alone).
 * A trigger's details may take 16 KiB, and an update's arguments over Temporal's 2 MB payload
 * limit would be refused, failing every trigger of the batch.
 */
const MAX_BATCH_BYTES = 512 * 1024;

/** The most recorded ids one update passes on (a batch's worth and then some); older ones are dropped. */
const MAX_RECORDED = 1_000;
/** Models whose recorded ids a process keeps for its next update; the least recently written go first. */
const MAX_MODELS_WITH_RECORDED = 10_000;

/**
 * Per model, the triggers this process delivered whose fates it has stored
 * since, to tell the model's workflow with the next update: their answers
 * need not be carried across continue-as-new. Outlives the model's batcher,
 * which goes when the model is quiet. Losing some is harmless: those answers
 * are carried, as before.
 */
class RecordedFates {
  private readonly byModel = new Map<string, string[]>();

  take(model: string): string[] {
    const ids = this.byModel.get(model) ?? [];
    this.byModel.delete(model);
    return ids;
  }

  add(model: string, ids: readonly string[]): void {
    if (ids.length === 0) return;
    const list = this.take(model);
    list.push(...ids);
    this.byModel.set(model, list.length > MAX_RECORDED ? list.slice(-MAX_RECORDED) : list);
    if (this.byModel.size > MAX_MODELS_WITH_RECORDED) {
      this.byModel.delete(this.byModel.keys().next().value!);
    }
  }
}

interface Waiting {
  readonly request: TriggerRequest;
  /** The request's size as JSON (UTF-8, at worst). */
  readonly bytes: number;
  readonly delivery: ModelDelivery;
  resolve(delivered: Delivered): void;
  reject(err: unknown): void;
}

/** A trigger stored, waiting for its update. */
interface Ready {
  readonly waiting: Waiting;
  readonly row: StoredTrigger;
  readonly registered: ModelRow;
}

/**
 * One model's triggers in this process: a lane of stores (one at a time) and
 * a lane of updates (one at a time), each taking everything waiting for it,
 * in arrival order, within the batch limits.
 */
class TriggerBatcher {
  private readonly toStore: Waiting[] = [];
  private readonly toSend: Ready[] = [];
  private storing = false;
  private sending = false;
  /** Batches whose fates are being stored. */
  private settling = 0;

  constructor(
    private readonly model: string,
    private readonly recordedFates: RecordedFates,
    private readonly onIdle: () => void,
  ) {}

  submit(request: TriggerRequest, delivery: ModelDelivery): Promise<Delivered> {
    return new Promise((resolve, reject) => {
      this.toStore.push({ request, bytes: jsonBytes(request), delivery, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (!this.storing && this.toStore.length > 0) this.store();
    if (!this.sending && this.toSend.length > 0) this.send();
    if (!this.storing && !this.sending && this.settling === 0 && this.toStore.length === 0) this.onIdle();
  }

  private store(): void {
    const batch = this.toStore.splice(
      0,
      batchLength(this.toStore, (w) => w.bytes),
    );
    this.storing = true;
    // Every request of a batch carries the same delivery (the model's); the first one's is used.
    batch[0]!.delivery
      .store(batch.map((w) => w.request))
      .then(
        ({ registered, rows }) => {
          for (const [i, waiting] of batch.entries()) {
            const row = rows[i]!;
            if (row.ok) this.toSend.push({ waiting, row: row.value, registered });
            else waiting.reject(row.error);
          }
        },
        (err) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.storing = false;
        this.pump();
      });
  }

  private send(): void {
    const batch = this.toSend.splice(
      0,
      batchLength(this.toSend, (r) => r.waiting.bytes),
    );
    const rows = batch.map((r) => r.row);
    const recorded = this.recordedFates.take(this.model);
    // The newest registry row of the batch: its freeze state starts the workflow, should there be none.
    const { registered, waiting } = batch.at(-1)!;
    this.sending = true;
    waiting.delivery
      .send(registered, rows, recorded)
      .then(
        (accepted) => {
          this.settling += 1;
          waiting.delivery
            .settle(this.model, rows, accepted)
            .then(
              (settled) => {
                for (const [i, r] of batch.entries())
                  r.waiting.resolve({ triggerId: r.row.id, accepted: settled[i]! });
                this.recordedFates.add(
                  this.model,
                  rows.map((r) => r.id),
                );
              },
              (err) => {
                for (const r of batch) r.waiting.reject(err);
              },
            )
            .finally(() => {
              this.settling -= 1;
              this.pump();
            });
        },
        (err) => {
          // The workflow may not have heard of these; the next batch tells it.
          this.recordedFates.add(this.model, recorded);
          for (const r of batch) r.waiting.reject(err);
        },
      )
      .finally(() => {
        this.sending = false;
        this.pump();
      });
  }
}

/** How many of the queued triggers go in the next batch: at least one, within both limits. */
function batchLength<T>(queue: readonly T[], bytesOf: (t: T) => number): number {
  let bytes = bytesOf(queue[0]!);
  let n = 1;
  while (n < queue.length && n < MAX_BATCH && bytes + bytesOf(queue[n]!) <= MAX_BATCH_BYTES) {
    bytes += bytesOf(queue[n]!);
    n += 1;
  }
  return n;
}

const batchers = new WeakMap<Client, { byModel: Map<string, TriggerBatcher>; recorded: RecordedFates }>();

function batcherFor(temporal: Client, model: string): TriggerBatcher {
  let forClient = batchers.get(temporal);
  if (!forClient) {
    forClient = { byModel: new Map(), recorded: new RecordedFates() };
    batchers.set(temporal, forClient);
  }
  const { byModel, recorded } = forClient;
  let batcher = byModel.get(model);
  if (!batcher) {
    batcher = new TriggerBatcher(model, recorded, () => byModel.delete(model));
    byModel.set(model, batcher);
  }
  return batcher;
}
