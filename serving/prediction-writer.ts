import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { predictionStats, predictions } from '../db/schema';

/**
 * Prediction recording off the request path. The gateway hands each
 * prediction to the writer and answers at once; the writer inserts the
 * buffered rows in batches (one INSERT, one transaction per flush) and,
 * in the same transaction, adds them to the per-version aggregates the canary
 * analysis reads (`prediction_stats`, one row per version and routing).
 *
 * Guarantees:
 * - flushes are group commits: a flush starts as soon as rows wait and the
 *   previous flush has ended, but at most one every `flushIntervalMs` (20 ms),
 *   so a quiet gateway writes a prediction within milliseconds and a busy one
 *   writes whatever arrived during the previous flush in one statement;
 * - the buffer is bounded: when it holds `maxBufferedRows`, `record` waits
 *   for room (back-pressure on the callers) and gives up after `maxWaitMs`
 *   with a RecordingBacklogError (the API answers 503);
 * - a failed flush (the database is away) keeps its rows and is retried with
 *   backoff; `close()` flushes what is left (the API does so on SIGTERM);
 * - a crash (kill -9) loses what was buffered and not yet flushed: at most
 *   what arrived during one flush (tens of milliseconds), plus whatever
 *   waited through an outage.
 *
 * Feedback (a prediction's true label) is batched too: a label for a buffered
 * prediction is written with it; any other waits for the next flush (group
 * commit) and is answered once the update committed. A label for a prediction
 * not found is tried again for up to about 0.8 s (another replica may not have
 * written it yet) before it is refused.
 */
export interface PredictionRow {
  readonly id: string;
  readonly model: string;
  readonly version: number;
  readonly role: 'champion' | 'candidate';
  readonly requestKey: string | null;
  readonly prediction: number | null;
  readonly error: boolean;
  readonly latencyMs: number;
  readonly createdAt: Date;
  /** When the routing that chose the version took effect (`routes.updated_at`). */
  readonly routeSince: Date;
  label: 0 | 1 | null;
  labelledAt: Date | null;
}

export interface PredictionWriterOptions {
  /** The least time between the starts of two flushes (default 20 ms). */
  readonly flushIntervalMs?: number;
  /** Rows buffered before `record` waits for room (default 50,000). */
  readonly maxBufferedRows?: number;
  /** How long `record` waits for room before it refuses (default 1,000 ms). */
  readonly maxWaitMs?: number;
  /**
   * Rows written by one flush (default 1,000). Serialising a flush's rows
   * holds the event loop: measured on the 2-core machine, a backlog drained
   * 5,000 rows at a time held it up to 30 ms (every request waited), 1,000 at
   * a time up to 7 ms, and the backlog drained as fast.
   */
  readonly maxFlushRows?: number;
  /** Latencies kept per version and routing for the canary (default PREDICTION_STATS_LATENCY_CAP). */
  readonly latencyCap?: number;
  /** Told about flushes that failed (they are retried). */
  onFlushError?(err: unknown, attempt: number, retryInMs: number): void;
}

export interface PredictionWriter {
  record(row: PredictionRow): Promise<void>;
  /** Records a label; false when the model has no such prediction. */
  feedback(model: string, predictionId: string, label: 0 | 1): Promise<boolean>;
  /** Writes everything buffered now (retrying until `timeoutMs`, default 10 s); returns the rows it could not write. */
  close(timeoutMs?: number): Promise<{ unwritten: number }>;
  stats(): { buffered: number; written: number; flushes: number; failedFlushes: number };
}

/** The most recent latencies kept per version and routing (the canary's default sample). */
export const PREDICTION_STATS_LATENCY_CAP = 2000;

export class RecordingBacklogError extends Error {
  constructor(buffered: number, waitedMs: number) {
    super(
      `prediction recording is behind: ${buffered} predictions wait for the database; refused after ${waitedMs} ms`,
    );
  }
}

/**
 * One INSERT for the whole batch, its columns passed as twelve arrays
 * (`unnest`): the statement costs the same to build for 10 rows as for 5,000,
 * where a multi-row VALUES list grows with every value (and its building
 * would hold the event loop, and every request, for tens of milliseconds).
 * Each array goes as one text parameter, an array literal written here, which
 * costs a fraction of the driver's per-element conversion.
 */
function insertRows(rows: readonly PredictionRow[]) {
  const plain = (pick: (r: PredictionRow) => string | number | boolean | null) =>
    sql.param(arrayLiteral(rows, pick, false));
  const text = (pick: (r: PredictionRow) => string | null) => sql.param(arrayLiteral(rows, pick, true));
  const time = (d: Date | null) => (d === null ? null : d.toISOString());
  return sql`insert into predictions
    (id, model, version, role, request_key, prediction, error, latency_ms, created_at, route_since, label, labelled_at)
    select * from unnest(
      ${plain((r) => r.id)}::uuid[], ${text((r) => r.model)}::text[], ${plain((r) => r.version)}::int[],
      ${text((r) => r.role)}::text[], ${text((r) => r.requestKey)}::text[],
      ${plain((r) => r.prediction)}::float8[], ${plain((r) => r.error)}::bool[],
      ${plain((r) => r.latencyMs)}::float8[], ${plain((r) => time(r.createdAt))}::timestamptz[],
      ${plain((r) => time(r.routeSince))}::timestamptz[], ${plain((r) => r.label)}::int[],
      ${plain((r) => time(r.labelledAt))}::timestamptz[]
    )`;
}

/**
 * A Postgres array literal of one column: `{a,b,NULL}`. Values that cannot
 * hold a separator, quote or backslash (numbers, booleans, uuids, ISO times)
 * go as they are; text is quoted, its quotes and backslashes escaped.
 */
export function arrayLiteral<T>(
  rows: readonly T[],
  pick: (row: T) => string | number | boolean | null,
  quote: boolean,
): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    const v = pick(rows[i]!);
    if (i > 0) out += ',';
    if (v === null) out += 'NULL';
    else if (quote) out += `"${String(v).replace(/["\\]/g, '\\$&')}"`;
    else out += String(v);
  }
  return `${out}}`;
}

const MAX_BACKOFF_MS = 5_000;
const FEEDBACK_RETRY_MS = [25, 50, 100, 200, 400];

interface PendingFeedback {
  readonly model: string;
  readonly id: string;
  readonly label: 0 | 1;
  resolve(found: boolean): void;
  reject(err: unknown): void;
}

/** Deltas for one prediction_stats row. */
interface StatsDelta {
  model: string;
  version: number;
  routeSince: Date;
  requests: number;
  errors: number;
  labelled: number;
  correct: number;
  latencies: number[];
}

const isCorrect = (prediction: number | null, label: number | null) =>
  prediction !== null && label !== null && prediction >= 0.5 === (label === 1) ? 1 : 0;

export function createPredictionWriter(db: Db, options: PredictionWriterOptions = {}): PredictionWriter {
  const flushIntervalMs = options.flushIntervalMs ?? 20;
  const maxBufferedRows = options.maxBufferedRows ?? 50_000;
  const maxWaitMs = options.maxWaitMs ?? 1_000;
  const maxFlushRows = options.maxFlushRows ?? 1_000;
  const latencyCap = options.latencyCap ?? PREDICTION_STATS_LATENCY_CAP;

  let pending: PredictionRow[] = [];
  const pendingById = new Map<string, PredictionRow>();
  let feedbackQueue: PendingFeedback[] = [];
  let flushing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let failures = 0;
  let lastFlushStart = Number.NEGATIVE_INFINITY;
  let roomWaiters: (() => void)[] = [];
  const counters = { written: 0, flushes: 0, failedFlushes: 0 };

  /** After a failed flush: 0.2 s, 0.4 s, … up to 5 s. */
  const backoffMs = () => Math.min(MAX_BACKOFF_MS, 100 * 2 ** failures);
  /** When the next flush may start. */
  const nextFlushInMs = () =>
    failures > 0 ? backoffMs() : Math.max(0, lastFlushStart + flushIntervalMs - performance.now());

  const schedule = (delayMs: number) => {
    if (timer || flushing) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, delayMs);
  };

  const wakeRoomWaiters = () => {
    if (pending.length >= maxBufferedRows) return;
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const w of waiters) w();
  };

  const flush = (): Promise<void> => {
    if (flushing) return flushing;
    if (pending.length === 0 && feedbackQueue.length === 0) return Promise.resolve();
    const batch = pending.slice(0, maxFlushRows);
    pending = pending.slice(batch.length);
    for (const row of batch) pendingById.delete(row.id);
    const labels = feedbackQueue;
    feedbackQueue = [];
    lastFlushStart = performance.now();
    flushing = write(batch, labels)
      .then((found) => {
        failures = 0;
        counters.flushes += 1;
        counters.written += batch.length;
        for (const [i, f] of labels.entries()) f.resolve(found[i]!);
      })
      .catch((err: unknown) => {
        failures += 1;
        counters.failedFlushes += 1;
        // The rows go back to the front, in order; a label's caller hears of the failure and may retry.
        pending = [...batch, ...pending];
        for (const row of batch) pendingById.set(row.id, row);
        for (const f of labels) f.reject(err);
        options.onFlushError?.(err, failures, backoffMs());
      })
      .finally(() => {
        flushing = null;
        wakeRoomWaiters();
        if (pending.length > 0 || feedbackQueue.length > 0) schedule(nextFlushInMs());
      });
    return flushing;
  };

  /** One transaction: the rows, the labels, then every aggregate they change (in key order, so concurrent writers never deadlock). */
  const write = async (
    batch: readonly PredictionRow[],
    labels: readonly PendingFeedback[],
  ): Promise<boolean[]> => {
    const deltas = new Map<string, StatsDelta>();
    const deltaFor = (model: string, version: number, routeSince: Date) => {
      const key = `${model}\u0000${String(version).padStart(10, '0')}\u0000${routeSince.toISOString()}`;
      let d = deltas.get(key);
      if (!d) {
        d = { model, version, routeSince, requests: 0, errors: 0, labelled: 0, correct: 0, latencies: [] };
        deltas.set(key, d);
      }
      return d;
    };
    for (const row of batch) {
      const d = deltaFor(row.model, row.version, row.routeSince);
      d.requests += 1;
      if (row.error) d.errors += 1;
      if (row.label !== null) {
        d.labelled += 1;
        d.correct += isCorrect(row.prediction, row.label);
      }
      d.latencies.push(Math.round(row.latencyMs * 1000) / 1000);
    }

    return db.transaction(async (tx) => {
      if (batch.length > 0) await tx.execute(insertRows(batch));

      const found: boolean[] = [];
      if (labels.length > 0) {
        const ids = [...new Set(labels.map((f) => f.id))].sort();
        const rows = await tx
          .select({
            id: predictions.id,
            model: predictions.model,
            version: predictions.version,
            routeSince: predictions.routeSince,
            prediction: predictions.prediction,
            label: predictions.label,
          })
          .from(predictions)
          .where(inArray(predictions.id, ids))
          .orderBy(asc(predictions.id))
          .for('update');
        const current = new Map(rows.map((r) => [r.id, { ...r }]));
        // Only the predictions a label of their own model reached are written (the last label wins).
        const labelled = new Set<string>();
        for (const f of labels) {
          const row = current.get(f.id);
          if (!row || row.model !== f.model) {
            found.push(false);
            continue;
          }
          found.push(true);
          if (row.routeSince) {
            const d = deltaFor(row.model, row.version, row.routeSince);
            if (row.label === null) d.labelled += 1;
            d.correct += isCorrect(row.prediction, f.label) - isCorrect(row.prediction, row.label);
          }
          row.label = f.label;
          labelled.add(f.id);
        }
        for (const id of labelled) {
          const row = current.get(id)!;
          await tx
            .update(predictions)
            .set({ label: row.label, labelledAt: new Date() })
            .where(and(eq(predictions.id, id), eq(predictions.model, row.model)));
        }
      }

      const keys = [...deltas.keys()].sort();
      for (const key of keys) {
        const d = deltas.get(key)!;
        const latencies = d.latencies.slice(-latencyCap);
        await tx
          .insert(predictionStats)
          .values({
            model: d.model,
            version: d.version,
            routeSince: d.routeSince,
            requests: d.requests,
            errors: d.errors,
            labelled: d.labelled,
            correct: d.correct,
            latenciesMs: latencies,
          })
          .onConflictDoUpdate({
            target: [predictionStats.model, predictionStats.version, predictionStats.routeSince],
            set: {
              requests: sql`prediction_stats.requests + excluded.requests`,
              errors: sql`prediction_stats.errors + excluded.errors`,
              labelled: sql`prediction_stats.labelled + excluded.labelled`,
              correct: sql`prediction_stats.correct + excluded.correct`,
              // The newest `latencyCap` latencies: the old ones, then this batch's, cut from the front.
              latenciesMs: sql`(prediction_stats.latencies_ms || excluded.latencies_ms)[greatest(1, cardinality(prediction_stats.latencies_ms) + cardinality(excluded.latencies_ms) - ${latencyCap} + 1):]`,
              updatedAt: sql`now()`,
            },
          });
      }
      return found;
    });
  };

  const waitForRoom = async () => {
    const started = Date.now();
    while (pending.length >= maxBufferedRows) {
      const left = maxWaitMs - (Date.now() - started);
      if (left <= 0) throw new RecordingBacklogError(pending.length, maxWaitMs);
      void flush();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        roomWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };

  return {
    async record(row) {
      if (pending.length >= maxBufferedRows) await waitForRoom();
      pending.push(row);
      pendingById.set(row.id, row);
      schedule(nextFlushInMs());
    },

    async feedback(model, predictionId, label) {
      const row = pendingById.get(predictionId);
      if (row && row.model === model) {
        row.label = label;
        row.labelledAt = new Date();
        return true;
      }
      const update = () =>
        new Promise<boolean>((resolve, reject) => {
          feedbackQueue.push({ model, id: predictionId, label, resolve, reject });
          schedule(nextFlushInMs());
        });
      if (await update()) return true;
      // Another replica may not have flushed it yet: look again after 25, 50, … 400 ms (0.8 s in all).
      for (const waitMs of FEEDBACK_RETRY_MS) {
        await new Promise((r) => setTimeout(r, waitMs));
        if (await update()) return true;
      }
      return false;
    },

    async close(timeoutMs = 10_000) {
      if (timer) clearTimeout(timer);
      timer = null;
      const deadline = Date.now() + timeoutMs;
      while ((pending.length > 0 || feedbackQueue.length > 0 || flushing) && Date.now() < deadline) {
        await flush();
        if (failures > 0 && pending.length > 0) {
          await new Promise((r) => setTimeout(r, backoffMs()));
        }
      }
      if (timer) clearTimeout(timer);
      timer = null;
      return { unwritten: pending.length };
    },

    stats: () => ({ buffered: pending.length, ...counters }),
  };
}
