import { and, eq, gte, inArray, isNotNull, isNull, ne, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Db } from '../db/client';
import { CHAMPION } from '../db/registry';
import { aliases, auditEvents, models, modelVersions, routes, runs, triggers } from '../db/schema';
import { OUTCOMES, STAGES } from '../workflows/messages';
import { ROLLBACK_REASON_PREFIX_CHARS, ROLLBACK_REASONS, rollbackReasonLabel } from './rollback-reason';

/**
 * The CT loop's metrics, read from the registry database when Prometheus
 * scrapes. Runs, triggers and rollbacks happen in the worker processes, whose
 * in-memory counters the API's /metrics would never see; the database is the
 * one place every process writes to, so the API derives these from it.
 *
 * The tables behind the counters are append-only (a trigger's fate is final
 * once its request returns, a run's outcome is set once), so counts of rows
 * only ever grow: they are true Prometheus counters, the same on every API
 * replica and unchanged by a restart. Each scrape runs a few aggregate
 * queries; none reads the predictions table, the one that grows with traffic.
 */

/** Seconds; runs last from minutes (no approval) to days (waiting for a person). */
export const RUN_DURATION_BUCKETS = [
  30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14_400, 28_800, 86_400, 172_800, 604_800,
];

/**
 * How late a run's end may become visible to a scrape: the end is stamped
 * with the database clock at commit, so a run that ended just before the
 * last observed one can still appear afterwards; within this window it is
 * still observed once.
 */
const LATE_END_SECONDS = 600;

/** A trigger is counted once ctloop decided its fate; `received` lasts only while its request is being handled. */
const TRANSIENT_TRIGGER_FATE = 'received';

export function registerPipelineMetrics(registry: Registry, deps: { db: Db; log?: Logger }): void {
  const { db, log } = deps;
  const registers = [registry];

  const collectFailures = new Counter({
    name: 'ctloop_metrics_collect_failures_total',
    help: 'Scrapes in which a metric could not be read from the registry database (its last values were kept)',
    labelNames: ['metric'],
    registers,
  });

  /**
   * Reads `rows` and only then replaces the metric's values in one
   * synchronous step, so concurrent scrapes never see a half-filled metric;
   * on a database error the previous values stay (a counter must not drop).
   */
  const fromDatabase = <R>(name: string, read: () => Promise<R>, apply: (rows: R) => void) => {
    collectFailures.inc({ metric: name }, 0);
    return async () => {
      let rows: R;
      try {
        rows = await read();
      } catch (err) {
        collectFailures.inc({ metric: name });
        log?.warn({ err, metric: name }, 'metrics: could not read from the registry');
        return;
      }
      apply(rows);
    };
  };

  const modelNames = () => db.select({ name: models.name }).from(models);

  const triggersTotal: Counter<'model' | 'reason' | 'fate'> = new Counter({
    name: 'ctloop_triggers_total',
    help: 'Retrain triggers received, by reason and by what ctloop did with them (started, queued, coalesced, rejected_frozen, …)',
    labelNames: ['model', 'reason', 'fate'],
    registers,
    collect: fromDatabase(
      'ctloop_triggers_total',
      () =>
        db
          .select({
            model: triggers.model,
            reason: triggers.reason,
            fate: triggers.fate,
            n: sql<number>`count(*)::int`,
          })
          .from(triggers)
          .where(ne(triggers.fate, TRANSIENT_TRIGGER_FATE))
          .groupBy(triggers.model, triggers.reason, triggers.fate),
      (rows) => {
        triggersTotal.reset();
        for (const r of rows)
          triggersTotal.inc({ model: r.model, reason: r.reason, fate: r.fate }, Number(r.n));
      },
    ),
  });

  const runsTotal: Counter<'model' | 'outcome'> = new Counter({
    name: 'ctloop_runs_total',
    help: 'CT runs that ended, by outcome (promoted, rejected_data, rejected_eval, rejected_approval, rolled_back, failed, cancelled)',
    labelNames: ['model', 'outcome'],
    registers,
    collect: fromDatabase(
      'ctloop_runs_total',
      async () => ({
        models: await modelNames(),
        counts: await db
          .select({ model: runs.model, outcome: runs.outcome, n: sql<number>`count(*)::int` })
          .from(runs)
          .where(isNotNull(runs.outcome))
          .groupBy(runs.model, runs.outcome),
      }),
      ({ models: registered, counts }) => {
        runsTotal.reset();
        // Every outcome starts at 0, so that increase() sees the first failure of a model.
        for (const { name } of registered)
          for (const outcome of OUTCOMES) runsTotal.inc({ model: name, outcome }, 0);
        for (const r of counts) runsTotal.inc({ model: r.model, outcome: r.outcome! }, Number(r.n));
      },
    ),
  });

  const inProgress: Gauge<'model' | 'stage'> = new Gauge({
    name: 'ctloop_runs_in_progress',
    help: 'CT runs not yet ended, by the stage they are in',
    labelNames: ['model', 'stage'],
    registers,
    collect: fromDatabase(
      'ctloop_runs_in_progress',
      async () => ({
        models: await modelNames(),
        counts: await db
          .select({ model: runs.model, stage: runs.stage, n: sql<number>`count(*)::int` })
          .from(runs)
          .where(isNull(runs.outcome))
          .groupBy(runs.model, runs.stage),
      }),
      ({ models: registered, counts }) => {
        inProgress.reset();
        for (const { name } of registered) {
          for (const stage of STAGES) if (stage !== 'done') inProgress.set({ model: name, stage }, 0);
        }
        for (const r of counts) inProgress.set({ model: r.model, stage: r.stage }, Number(r.n));
      },
    ),
  });

  const freshness: Gauge<'model'> = new Gauge({
    name: 'ctloop_model_freshness_seconds',
    help: "Seconds since the serving champion was trained (its model version's registration); absent while a model has no champion",
    labelNames: ['model'],
    registers,
    collect: fromDatabase(
      'ctloop_model_freshness_seconds',
      () =>
        db
          .select({
            model: aliases.model,
            // The database clock stamped created_at, so the database clock measures the age.
            age: sql<number>`extract(epoch from now() - ${modelVersions.createdAt})::float8`,
          })
          .from(aliases)
          .innerJoin(
            modelVersions,
            and(eq(modelVersions.model, aliases.model), eq(modelVersions.version, aliases.version)),
          )
          .where(eq(aliases.alias, CHAMPION)),
      (rows) => {
        freshness.reset();
        for (const r of rows) freshness.set({ model: r.model }, Number(r.age));
      },
    ),
  });

  const canaryShare: Gauge<'model'> = new Gauge({
    name: 'ctloop_canary_traffic_share',
    help: 'Share of prediction traffic routed to the canary candidate (0 to 1)',
    labelNames: ['model'],
    registers,
    collect: fromDatabase(
      'ctloop_canary_traffic_share',
      () =>
        db
          .select({ model: routes.model, candidate: routes.candidateVersion, weight: routes.candidateWeight })
          .from(routes),
      (rows) => {
        canaryShare.reset();
        for (const r of rows) canaryShare.set({ model: r.model }, r.candidate === null ? 0 : r.weight / 100);
      },
    ),
  });

  const rollbacks: Counter<'model' | 'reason'> = new Counter({
    name: 'ctloop_rollbacks_total',
    help: `Times traffic was taken back from a candidate and given to the previous champion, by reason (${ROLLBACK_REASONS.join(', ')})`,
    labelNames: ['model', 'reason'],
    registers,
    collect: fromDatabase(
      'ctloop_rollbacks_total',
      async () => {
        const prefix = sql<string>`left(coalesce(${auditEvents.reason}, ''), ${sql.raw(String(ROLLBACK_REASON_PREFIX_CHARS))})`;
        return {
          models: await modelNames(),
          counts: await db
            .select({
              model: auditEvents.model,
              kind: auditEvents.kind,
              actor: auditEvents.actor,
              reason: prefix,
              n: sql<number>`count(*)::int`,
            })
            .from(auditEvents)
            .where(inArray(auditEvents.kind, ['rollback', 'routing_restored']))
            .groupBy(auditEvents.model, auditEvents.kind, auditEvents.actor, prefix),
        };
      },
      ({ models: registered, counts }) => {
        rollbacks.reset();
        for (const { name } of registered)
          for (const reason of ROLLBACK_REASONS) rollbacks.inc({ model: name, reason }, 0);
        for (const r of counts)
          rollbacks.inc({ model: r.model, reason: rollbackReasonLabel(r) }, Number(r.n));
      },
    ),
  });

  const compensationFailures: Counter<'model'> = new Counter({
    name: 'ctloop_compensation_failures_total',
    help: 'Rollbacks of a promotion (a failed promotion or a rollback during the bake) that left steps half-undone after every retry: the run ended failed; its report `saga` names each step',
    labelNames: ['model'],
    registers,
    collect: fromDatabase(
      'ctloop_compensation_failures_total',
      async () => ({
        models: await modelNames(),
        counts: await db
          .select({ model: auditEvents.model, n: sql<number>`count(*)::int` })
          .from(auditEvents)
          .where(eq(auditEvents.kind, 'compensation_failed'))
          .groupBy(auditEvents.model),
      }),
      ({ models: registered, counts }) => {
        compensationFailures.reset();
        // From 0 for every model, so that increase() sees the first one.
        for (const { name } of registered) compensationFailures.inc({ model: name }, 0);
        for (const r of counts) compensationFailures.inc({ model: r.model }, Number(r.n));
      },
    ),
  });

  registerRunDurations(registry, db, log, collectFailures);
}

/**
 * `ctloop_run_duration_seconds`: a histogram cannot be set from outside, so
 * each scrape observes the runs that ended since the last one, once each.
 * The first scrape of a process observes every run that ever ended, which
 * makes the histogram a function of the database like the counters: after a
 * restart it comes back at the same (or a larger) count rather than at zero,
 * and every replica serves the same numbers. Later scrapes only read runs
 * that ended within LATE_END_SECONDS of the newest end observed; the ids
 * seen within that window are remembered (and forgotten as it moves), which
 * bounds the memory. Scrapes are serialised so that two concurrent ones
 * cannot observe a run twice.
 */
function registerRunDurations(
  registry: Registry,
  db: Db,
  log: Logger | undefined,
  failures: Counter<'metric'>,
) {
  const name = 'ctloop_run_duration_seconds';
  failures.inc({ metric: name }, 0);
  let newestEndMs: number | null = null;
  const seen = new Map<string, number>();
  let previous: Promise<void> = Promise.resolve();

  const observeNewlyEnded = async () => {
    const since = newestEndMs === null ? null : new Date(newestEndMs - LATE_END_SECONDS * 1000);
    const ended = await db
      .select({
        id: runs.id,
        model: runs.model,
        outcome: runs.outcome,
        endedAt: runs.endedAt,
        seconds: sql<number>`extract(epoch from ${runs.endedAt} - ${runs.startedAt})::float8`,
      })
      .from(runs)
      .where(
        and(isNotNull(runs.outcome), isNotNull(runs.endedAt), since ? gte(runs.endedAt, since) : undefined),
      );
    for (const r of ended) {
      if (seen.has(r.id)) continue;
      durations.observe({ model: r.model, outcome: r.outcome! }, Math.max(0, Number(r.seconds)));
      const endMs = r.endedAt!.getTime();
      seen.set(r.id, endMs);
      if (newestEndMs === null || endMs > newestEndMs) newestEndMs = endMs;
    }
    const forgetBefore = (newestEndMs ?? 0) - LATE_END_SECONDS * 1000;
    for (const [id, endMs] of seen) if (endMs < forgetBefore) seen.delete(id);
  };

  const durations: Histogram<'model' | 'outcome'> = new Histogram({
    name,
    help: 'Wall-clock duration of ended CT runs, from the start of the run to its outcome',
    labelNames: ['model', 'outcome'],
    buckets: RUN_DURATION_BUCKETS,
    registers: [registry],
    collect() {
      previous = previous.then(observeNewlyEnded).catch((err) => {
        failures.inc({ metric: name });
        log?.warn({ err, metric: name }, 'metrics: could not read from the registry');
      });
      return previous;
    },
  });
}
