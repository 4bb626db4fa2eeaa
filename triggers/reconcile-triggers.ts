import { and, asc, eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { describeDatabaseError } from '../db/errors';
import { findModel } from '../db/registry';
import { triggers } from '../db/schema';
import { REDELIVERY_WINDOW_MS } from '../domain/trigger-ledger';
import type { TriggerReason } from '../workflows/messages';
import { deliverStored, type StoredTrigger, type TriggerDeps } from './submit-trigger';

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
 */
export interface ReconcileReport {
  /** Triggers handed to their workflow again, whose fate is now stored. */
  readonly redelivered: number;
  /** Triggers given up on: no workflow took them within the redelivery window. */
  readonly givenUp: number;
  /** Models whose workflow could not be reached this round (their triggers stay `received`). */
  readonly unreachable: readonly string[];
}

/** How often a control process looks, and how old a `received` trigger must be to be delivered again. */
export const RECONCILE_EVERY_MS = 15_000;
export const RECONCILE_GRACE_MS = 30_000;

/** Most triggers one round delivers; the rest wait for the next round. */
const ROUND_LIMIT = 1_000;
/** Triggers per update, as the API's batches (Temporal bounds an update's payload). */
const BATCH = 200;

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
        eq(triggers.fate, 'received'),
        sql`${triggers.receivedAt} < now() - make_interval(secs => ${REDELIVERY_WINDOW_MS / 1000})`,
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
    .where(
      and(
        eq(triggers.fate, 'received'),
        sql`${triggers.receivedAt} < now() - make_interval(secs => ${opts.graceMs / 1000})`,
      ),
    )
    .orderBy(asc(triggers.receivedAt))
    .limit(ROUND_LIMIT);

  const byModel = new Map<string, StoredTrigger[]>();
  for (const row of rows) {
    const stored: StoredTrigger = {
      id: row.id,
      receivedAt: row.receivedAt,
      request: {
        reason: row.reason as TriggerReason,
        details: row.details as Record<string, unknown>,
        requestedBy: row.requestedBy,
        ...(row.dedupKey === null ? {} : { dedupKey: row.dedupKey }),
      },
    };
    byModel.set(row.model, [...(byModel.get(row.model) ?? []), stored]);
  }

  let redelivered = 0;
  const unreachable: string[] = [];
  for (const [model, stored] of byModel) {
    // A trigger's model stays registered (a foreign key), so this finds it.
    const registered = await findModel(db, model);
    if (!registered) continue;
    try {
      for (let i = 0; i < stored.length; i += BATCH) {
        await deliverStored(deps, registered, stored.slice(i, i + BATCH), { onFailure: 'leave' });
        redelivered += Math.min(BATCH, stored.length - i);
      }
    } catch {
      unreachable.push(model);
    }
  }
  return { redelivered, givenUp: givenUp.length, unreachable };
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
  let timer: NodeJS.Timeout | null = null;
  let round: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    round = reconcileTriggers(deps, { graceMs: opts.graceMs })
      .then((report) => {
        if (report.redelivered > 0 || report.givenUp > 0 || report.unreachable.length > 0) {
          log.info(report, 'reconciled triggers whose fate was never stored');
        }
      })
      .catch((err) =>
        log.warn({ reason: describeDatabaseError(err) }, 'trigger reconciliation failed; retrying'),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, opts.everyMs);
      });
  };
  timer = setTimeout(tick, opts.everyMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await round;
    },
  };
}
