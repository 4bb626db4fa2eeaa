import { and, eq, sql } from 'drizzle-orm';
import { CHAMPION } from '../db/registry';
import { aliases, auditEvents, modelVersions, monitorBaselines } from '../db/schema';
import type { ActivityDeps } from './deps';

/** A monitor_baselines row as an activity passes it around (dates left out). */
export interface MonitorBaseline {
  readonly model: string;
  readonly version: number;
  readonly runId: string | null;
  readonly referenceUri: string;
  readonly baseline: unknown;
}

/** What a promotion replaced: every undo of the saga puts exactly this back. */
export interface PromotionPrevious {
  readonly champion: number | null;
  readonly monitors: MonitorBaseline | null;
}

function toMonitorBaseline(row: typeof monitorBaselines.$inferSelect): MonitorBaseline {
  return {
    model: row.model,
    version: row.version,
    runId: row.runId,
    referenceUri: row.referenceUri,
    baseline: row.baseline,
  };
}

/** The audit event that holds a run's promotion record; its key makes the record write-once. */
export const promotionStartKey = (runId: string) => `${runId}:promotion-started`;

/**
 * The promotion saga's bookkeeping. Every step and every undo is a write of a
 * fixed target (the new version, or what `recordPromotionStart` recorded), so
 * a retried call, even after a first attempt that wrote and then failed,
 * leaves the same state as one clean call.
 */
export function createPromotionActivities({ db }: ActivityDeps) {
  return {
    /**
     * Records, before the saga's first write, what the promotion replaces: the
     * champion and the monitors' baseline. Write-once per run: a retry, a
     * replayed or reset workflow, or a continued run gets the first record
     * back, never the state the promotion itself wrote.
     */
    async recordPromotionStart(input: {
      model: string;
      runId: string;
      version: number;
      actor: string;
      reason: string;
    }): Promise<PromotionPrevious> {
      return db.transaction(async (tx) => {
        const key = promotionStartKey(input.runId);
        const [recorded] = await tx
          .select({ details: auditEvents.details })
          .from(auditEvents)
          .where(eq(auditEvents.eventKey, key));
        if (recorded) return (recorded.details as { previous: PromotionPrevious }).previous;
        const [alias] = await tx
          .select({ version: aliases.version })
          .from(aliases)
          .where(and(eq(aliases.model, input.model), eq(aliases.alias, CHAMPION)));
        const [monitors] = await tx
          .select()
          .from(monitorBaselines)
          .where(eq(monitorBaselines.model, input.model));
        const previous: PromotionPrevious = {
          champion: alias?.version ?? null,
          monitors: monitors ? toMonitorBaseline(monitors) : null,
        };
        const [inserted] = await tx
          .insert(auditEvents)
          .values({
            model: input.model,
            runId: input.runId,
            kind: 'promotion_started',
            actor: input.actor,
            reason: input.reason,
            details: { fromVersion: previous.champion, toVersion: input.version, previous },
            eventKey: key,
          })
          .onConflictDoNothing()
          .returning({ id: auditEvents.id });
        if (inserted) return previous;
        // A concurrent attempt (a retry after a start-to-close timeout) recorded first: its record stands.
        const [first] = await tx
          .select({ details: auditEvents.details })
          .from(auditEvents)
          .where(eq(auditEvents.eventKey, key));
        return (first!.details as { previous: PromotionPrevious }).previous;
      });
    },

    /**
     * Promotion saga, step 3: the monitors' reference (the new champion's
     * training data) and baseline. What it replaces was recorded by
     * `recordPromotionStart`.
     */
    async setMonitorBaseline(input: {
      model: string;
      runId: string;
      version: number;
      baseline: unknown;
    }): Promise<void> {
      const [version] = await db
        .select({ dataUri: modelVersions.dataUri })
        .from(modelVersions)
        .where(and(eq(modelVersions.model, input.model), eq(modelVersions.version, input.version)));
      const row = {
        model: input.model,
        version: input.version,
        runId: input.runId,
        referenceUri: version?.dataUri ?? '',
        baseline: input.baseline ?? null,
        updatedAt: sql`now()`,
      };
      await db
        .insert(monitorBaselines)
        .values(row)
        .onConflictDoUpdate({ target: monitorBaselines.model, set: row });
    },

    /** Undo of step 3: the monitors' previous reference and baseline (or none). */
    async restoreMonitorBaseline(input: { model: string; previous: MonitorBaseline | null }): Promise<void> {
      if (!input.previous) {
        await db.delete(monitorBaselines).where(eq(monitorBaselines.model, input.model));
        return;
      }
      const row = { ...input.previous, updatedAt: sql`now()` };
      await db
        .insert(monitorBaselines)
        .values(row)
        .onConflictDoUpdate({ target: monitorBaselines.model, set: row });
    },
  };
}
