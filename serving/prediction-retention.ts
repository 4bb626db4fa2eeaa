import { and, eq, inArray, lt } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client';
import { describeDatabaseError } from '../db/errors';
import { models, predictions } from '../db/schema';
import { parsePolicy } from '../domain/policy';
import { runEvery } from '../workers/periodic';

/**
 * Retention of raw predictions: each model's rows older than its policy's
 * `serving.retentionDays` are deleted, a batch at a time (short transactions,
 * no long lock on a busy table). The per-version aggregates (`prediction_stats`)
 * are kept, so a past canary's figures stay; feedback can join a prediction
 * only while its row is kept.
 */
export const PRUNE_EVERY_MS = 10 * 60_000;
const DAY_MS = 86_400_000;

export interface PruneReport {
  /** Rows deleted per model (models with none left out). */
  readonly deleted: Record<string, number>;
  /** Models whose stored policy could not be read (their rows are kept), with the reason. */
  readonly skipped: Record<string, string>;
}

export async function prunePredictions(
  db: Db,
  opts: { now?: Date; batchRows?: number } = {},
): Promise<PruneReport> {
  const now = opts.now ?? new Date();
  const batchRows = opts.batchRows ?? 10_000;
  const deleted: Record<string, number> = {};
  const skipped: Record<string, string> = {};
  for (const model of await db.select({ name: models.name, policy: models.policy }).from(models)) {
    let retentionDays: number;
    try {
      retentionDays = parsePolicy(model.policy).serving.retentionDays;
    } catch (err) {
      skipped[model.name] = (err as Error).message.slice(0, 300);
      continue;
    }
    const cutoff = new Date(now.getTime() - retentionDays * DAY_MS);
    let total = 0;
    for (;;) {
      const doomed = db
        .select({ id: predictions.id })
        .from(predictions)
        .where(and(eq(predictions.model, model.name), lt(predictions.createdAt, cutoff)))
        .limit(batchRows);
      const n = affectedRows(await db.delete(predictions).where(inArray(predictions.id, doomed)));
      total += n;
      if (n < batchRows) break;
    }
    if (total > 0) deleted[model.name] = total;
  }
  return { deleted, skipped };
}

/** Rows a statement changed: node-postgres says `rowCount`, PGlite `affectedRows`. */
function affectedRows(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number };
  return r.rowCount ?? r.affectedRows ?? 0;
}

/** Prunes every PRUNE_EVERY_MS in this process (a control worker, or `npm run dev`) until stopped. */
export function startPredictionPruner(
  db: Db,
  log: Logger,
  everyMs = PRUNE_EVERY_MS,
): { stop(): Promise<void> } {
  return runEvery(
    everyMs,
    async () => {
      const report = await prunePredictions(db);
      if (Object.keys(report.deleted).length > 0)
        log.info(report, 'deleted predictions past their retention');
    },
    (err) => log.warn({ reason: describeDatabaseError(err) }, 'prediction retention failed; retrying'),
  );
}
