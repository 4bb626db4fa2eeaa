import { WorkflowNotFoundError } from '@temporalio/client';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { describeDatabaseError } from '../db/errors';
import { findModel } from '../db/registry';
import { triggers } from '../db/schema';
import { REDELIVERY_WINDOW_MS } from '../domain/trigger-ledger';
import { runEvery } from '../workers/periodic';
import {
  modelWorkflowId,
  type TriggerAccepted,
  type TriggerReason,
  triggerAnswersQuery,
} from '../workflows/messages';
import { deliverStored, recordFates, type StoredTrigger, type TriggerDeps } from './submit-trigger';

/**
 * Every stored trigger reaches exactly one fate. A trigger is stored
 * (`received`) before it is handed to the model's workflow, and its fate is
 * stored after the workflow answers; a process that dies in between (kill -9,
 * a lost node) or a database that goes away in between leaves the row
 * `received`. The reconciler finds such rows once they are older than a grace
 * period and delivers them again. The model's workflow remembers what it
 * answered each recent trigger (domain/trigger-ledger.ts), so a trigger that
 * did reach it gets its first answer again and never a second run; one that
 * did not is decided now. Several processes may reconcile at once: the
 * workflow decides each trigger once, and each writes the same fate.
 *
 * A trigger still `received` after `REDELIVERY_WINDOW_MS` (no workflow could
 * be reached for an hour) is given up: `failed_to_deliver`, with the reason.
 *
 * A delivery that fails on the caller's side (a timeout, a connection lost
 * while Temporal restarts) is recorded `failed_to_deliver` and answered 503,
 * yet the workflow may have taken the trigger before the failure. The
 * reconciler asks the workflow (`triggerAnswersQuery`) about such rows: one
 * it took gets the fate it was given, so its row and its run agree; the
 * others get the reason that the workflow never took them.
 */
export interface ReconcileReport {
  /** Triggers handed to their workflow again, whose fate is now stored. */
  readonly redelivered: number;
  /** Triggers given up on: no workflow took them within the redelivery window. */
  readonly givenUp: number;
  /**
   * Triggers recorded `failed_to_deliver` (the caller's update failed, and
   * the caller was answered 503) that the workflow had taken all the same:
   * their row now says the fate the workflow gave them.
   */
  readonly corrected: number;
  /** Models whose workflow could not be reached this round (their triggers are tried again next round). */
  readonly unreachable: readonly string[];
}

/** How often a control process looks, and how old a `received` trigger must be to be delivered again. */
export const RECONCILE_EVERY_MS = 15_000;
export const RECONCILE_GRACE_MS = 30_000;

/** Most triggers one round delivers; the rest wait for the next round. */
const ROUND_LIMIT = 1_000;
/** Triggers per update, as the API's batches (Temporal bounds an update's payload). */
const BATCH = 200;

/** Stored more than `ms` ago, by the database's clock (which stamped `received_at`). */
const storedBefore = (ms: number) =>
  sql`${triggers.receivedAt} < now() - make_interval(secs => ${ms / 1000})`;

/** Each model's rows, in the order given. */
function byModel<R extends { model: string }, T>(rows: readonly R[], item: (row: R) => T): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.model);
    if (group) group.push(item(row));
    else groups.set(row.model, [item(row)]);
  }
  return groups;
}

export async function reconcileTriggers(
  deps: TriggerDeps,
  opts: { graceMs: number },
): Promise<ReconcileReport> {
  const { db } = deps;
  const givenUp = await db
    .update(triggers)
    .set({
      fate: 'failed_to_deliver',
      fateReason: `no model workflow took it within ${REDELIVERY_WINDOW_MS / 60_000} minutes`,
    })
    .where(
      and(
        inArray(triggers.fate, ['received', 'failed_to_deliver']),
        isNull(triggers.fateReason),
        storedBefore(REDELIVERY_WINDOW_MS),
      ),
    )
    .returning({ id: triggers.id });
  const rows = await db
    .select({
      id: triggers.id,
      model: triggers.model,
      reason: triggers.reason,
      details: triggers.details,
      dedupKey: triggers.dedupKey,
      requestedBy: triggers.requestedBy,
      receivedAt: triggers.receivedAt,
    })
    .from(triggers)
    .where(and(eq(triggers.fate, 'received'), storedBefore(opts.graceMs)))
    .orderBy(asc(triggers.receivedAt))
    .limit(ROUND_LIMIT);

  const stored = byModel(
    rows,
    (row): StoredTrigger => ({
      id: row.id,
      receivedAt: row.receivedAt,
      request: {
        reason: row.reason as TriggerReason,
        details: row.details as Record<string, unknown>,
        requestedBy: row.requestedBy,
        ...(row.dedupKey === null ? {} : { dedupKey: row.dedupKey }),
      },
    }),
  );

  let redelivered = 0;
  const unreachable: string[] = [];
  for (const [model, modelRows] of stored) {
    // A trigger's model stays registered (a foreign key), so this finds it.
    const registered = await findModel(db, model);
    if (!registered) continue;
    try {
      for (let i = 0; i < modelRows.length; i += BATCH) {
        const batch = modelRows.slice(i, i + BATCH);
        await deliverStored(deps, registered, batch, { onFailure: 'leave' });
        redelivered += batch.length;
      }
    } catch {
      unreachable.push(model);
    }
  }
  const corrected = await settleFailedDeliveries(deps, opts.graceMs, unreachable);
  return { redelivered, givenUp: givenUp.length, corrected, unreachable };
}

const NEVER_TAKEN = 'its model workflow could not be reached';

/** Asks each model's workflow about the triggers whose delivery failed on the caller's side. */
async function settleFailedDeliveries(
  deps: TriggerDeps,
  graceMs: number,
  unreachable: string[],
): Promise<number> {
  const { db } = deps;
  const rows = await db
    .select({ id: triggers.id, model: triggers.model })
    .from(triggers)
    .where(and(eq(triggers.fate, 'failed_to_deliver'), isNull(triggers.fateReason), storedBefore(graceMs)))
    .orderBy(asc(triggers.receivedAt))
    .limit(ROUND_LIMIT);
  let corrected = 0;
  for (const [model, ids] of byModel(rows, (row) => row.id)) {
    let answers: (TriggerAccepted | null)[];
    try {
      answers = await deps.temporal.workflow
        .getHandle(modelWorkflowId(model))
        .query(triggerAnswersQuery, ids);
    } catch (err) {
      // No model workflow at all: nothing took them. Anything else: ask again next round.
      if (!(err instanceof WorkflowNotFoundError)) {
        if (!unreachable.includes(model)) unreachable.push(model);
        continue;
      }
      answers = ids.map(() => null);
    }
    const taken = ids.flatMap((id, i) => (answers[i] ? [{ id, answer: answers[i]! }] : []));
    const notTaken = ids.filter((_, i) => !answers[i]);
    if (taken.length > 0) {
      await recordFates(
        db,
        taken.map((t) => t.id),
        taken.map((t) => t.answer),
      );
      corrected += taken.length;
    }
    if (notTaken.length > 0) {
      await db.update(triggers).set({ fateReason: NEVER_TAKEN }).where(inArray(triggers.id, notTaken));
    }
  }
  return corrected;
}

/**
 * Runs `reconcileTriggers` every `everyMs` in this process until stopped. A
 * round that fails (the database or Temporal is down) is logged and the next
 * one tries again.
 */
export function startTriggerReconciler(
  deps: TriggerDeps,
  log: Logger,
  opts: { everyMs: number; graceMs: number } = { everyMs: RECONCILE_EVERY_MS, graceMs: RECONCILE_GRACE_MS },
): { stop(): Promise<void> } {
  return runEvery(
    opts.everyMs,
    async () => {
      const report = await reconcileTriggers(deps, { graceMs: opts.graceMs });
      if (report.redelivered + report.givenUp + report.corrected > 0 || report.unreachable.length > 0) {
        log.info(report, 'reconciled triggers whose fate was never stored');
      }
    },
    (err) => log.warn({ reason: describeDatabaseError(err) }, 'trigger reconciliation failed; retrying'),
  );
}
