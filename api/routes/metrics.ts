import { createRoute, z } from '@hono/zod-openapi';
import { and, asc, desc, eq, gte, isNull, type SQL } from 'drizzle-orm';
import { championVersion } from '../../db/registry';
import { type ProductionMetricRow, productionMetrics } from '../../db/schema';
import { alarmDedupKey, type PerformanceAlarmResult, performanceAlarm } from '../../domain/performance/alarm';
import { type MetricAlarmRule, metricName } from '../../domain/performance/policy';
import { parseStoredSection } from '../../domain/policy';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { timestamp as isoTime, orNull, TriggerAnswer } from '../responses';
import { createRouter } from '../router';
import { errors, INT32_MAX, jsonBody, jsonResponse, ModelParam, writeErrors } from '../schemas';
import { requireModel } from './models';
import { submitTriggerForApi } from './triggers';

/** Clocks disagree a little; a point further in the future than this is a sender's mistake. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** The newest points of one metric read to judge it; an episode older than these is keyed by period. */
const MAX_POINTS_JUDGED = 5_000;
/** Points of the window listed in a trigger's details (the newest ones). */
const MAX_EVIDENCE_IN_TRIGGER = 100;

const timestamp = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' })
  .refine((s) => Date.parse(s) <= Date.now() + MAX_CLOCK_SKEW_MS, {
    message: 'is more than 5 minutes in the future',
  });

const MetricPointBody = z
  .object({
    metric: metricName,
    value: z.number().openapi({ description: 'a finite number (NaN and infinities are refused)' }),
    coverage: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .openapi({ description: 'share of the predictions behind the value that had a label' }),
    samples: z.number().int().min(0).max(INT32_MAX).optional(),
    observedAt: timestamp.optional().openapi({ description: 'when the value was true; default: now' }),
    version: z
      .number()
      .int()
      .positive()
      .max(INT32_MAX)
      .optional()
      .openapi({ description: 'the version that served; default: the champion now' }),
  })
  .strict();

const MetricsBody = z
  .object({
    points: z.array(MetricPointBody).min(1).max(1000),
    source: z.string().trim().min(1).max(200).default('api'),
  })
  .strict()
  .openapi('ProductionMetrics');

const MetricsQuery = z.object({
  metric: metricName.optional(),
  since: timestamp.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

const MetricsAnswer = z
  .object({
    model: z.string(),
    recorded: z.number().int().min(1),
    judgedVersion: z.number().int().nullable(),
    metrics: z.array(
      z.object({
        metric: z.string(),
        monitored: z.boolean(),
        decision: z.string().openapi({ description: 'ok, alarm, insufficient, … or not_monitored' }),
        reasons: z.array(z.string()).readonly(),
        threshold: z.number().optional(),
        direction: z.enum(['below', 'above']).optional(),
        windowSeconds: z.number().optional(),
        points: z.number().int().optional(),
        trigger: orNull(TriggerAnswer),
      }),
    ),
  })
  .openapi('MetricsJudged');

const MetricPoint = z
  .object({
    id: z.uuid(),
    model: z.string(),
    version: z.number().int().nullable(),
    metric: z.string(),
    value: z.number(),
    coverage: z.number().nullable(),
    samples: z.number().int().nullable(),
    observedAt: isoTime,
    receivedAt: isoTime,
    source: z.string(),
  })
  .openapi('MetricPoint');

type Trigger = Awaited<ReturnType<typeof submitTriggerForApi>>['body'];

interface MetricJudgement {
  readonly metric: string;
  readonly monitored: boolean;
  readonly decision: PerformanceAlarmResult['decision'] | 'not_monitored';
  readonly reasons: readonly string[];
  readonly threshold?: number;
  readonly direction?: MetricAlarmRule['direction'];
  readonly windowSeconds?: number;
  readonly points?: number;
  readonly trigger: Trigger | null;
}

const pointView = (r: Pick<ProductionMetricRow, 'observedAt' | 'value' | 'coverage' | 'samples'>) => ({
  observedAt: r.observedAt.toISOString(),
  value: r.value,
  coverage: r.coverage,
  samples: r.samples,
});

/** Production metrics: recorded, judged against the model's performance policy, and a retrain when one alarms. */
export function metricRoutes(deps: ApiDeps) {
  const { db } = deps;

  /** The newest points of a metric served by `version` (by no known version when there is no champion). */
  async function recentPoints(model: string, metric: string, version: number | null) {
    const rows = await db
      .select()
      .from(productionMetrics)
      .where(
        and(
          eq(productionMetrics.model, model),
          eq(productionMetrics.metric, metric),
          version === null ? isNull(productionMetrics.version) : eq(productionMetrics.version, version),
        ),
      )
      .orderBy(desc(productionMetrics.observedAt))
      .limit(MAX_POINTS_JUDGED);
    return { rows, truncated: rows.length === MAX_POINTS_JUDGED };
  }

  async function judge(
    model: string,
    metric: string,
    rule: MetricAlarmRule,
    version: number | null,
    by: string,
  ): Promise<MetricJudgement> {
    const { rows, truncated } = await recentPoints(model, metric, version);
    const points = rows.map((r) => ({ ...r, observedAt: r.observedAt.getTime() }));
    const result = performanceAlarm(points, rule, { truncated });
    const judgement = {
      metric,
      monitored: true,
      decision: result.decision,
      reasons: result.reasons,
      threshold: rule.threshold,
      direction: rule.direction,
      windowSeconds: rule.windowSeconds,
      points: result.evidence.length,
    };
    if (result.decision !== 'alarm') return { ...judgement, trigger: null };
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const submission = await submitTriggerForApi(deps, model, {
      reason: 'performance',
      details: {
        metric,
        version,
        threshold: rule.threshold,
        direction: rule.direction,
        windowSeconds: rule.windowSeconds,
        minPoints: rule.minPoints,
        minCoverage: rule.minCoverage,
        asOf: iso(result.asOf),
        windowStart: iso(result.windowStart),
        episodeStart: iso(result.episodeStart),
        ongoingBefore: iso(result.ongoingBefore),
        reasons: result.reasons,
        pointsInWindow: result.evidence.length,
        points: result.evidence
          .slice(-MAX_EVIDENCE_IN_TRIGGER)
          .map((p) => pointView({ ...p, observedAt: new Date(p.observedAt) })),
      },
      dedupKey: alarmDedupKey(metric, version, rule, result),
      requestedBy: by,
    });
    return { ...judgement, trigger: { ...submission.body } };
  }

  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/metrics',
        summary:
          "Record production metrics (e.g. accuracy from delayed labels, with label coverage); each metric the policy monitors is judged, and one that stays beyond its threshold over the policy's window triggers a `performance` run",
        request: { params: ModelParam, ...jsonBody(MetricsBody) },
        responses: {
          202: jsonResponse('Recorded; an alarm triggered a run (see each metric’s trigger)', MetricsAnswer),
          200: jsonResponse('Recorded; nothing new was triggered', MetricsAnswer),
          ...writeErrors,
          409: {
            ...errors(409)[409],
            description: 'The model workflow refused the alarm’s trigger (`refused`)',
          },
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        const body = c.req.valid('json');
        const registered = await requireModel(deps, model);
        const policy = parseStoredSection(registered.policy, model, 'performance');
        const champion = await championVersion(db, model);
        const receivedAt = new Date();
        await db.insert(productionMetrics).values(
          body.points.map((p) => ({
            model,
            version: p.version ?? champion,
            metric: p.metric,
            value: p.value,
            coverage: p.coverage ?? null,
            samples: p.samples ?? null,
            observedAt: p.observedAt ? new Date(p.observedAt) : receivedAt,
            receivedAt,
            source: body.source,
          })),
        );

        const judgements: MetricJudgement[] = [];
        for (const metric of new Set(body.points.map((p) => p.metric))) {
          const rule = policy.metrics[metric];
          if (!rule?.enabled || !policy.enabled) {
            const why = !rule
              ? `the policy does not monitor ${metric}; recorded only`
              : `performance alarms for ${metric} are disabled in the policy; recorded only`;
            judgements.push({
              metric,
              monitored: false,
              decision: 'not_monitored',
              reasons: [why],
              trigger: null,
            });
            continue;
          }
          // The caller (its API token) is who asked for the retrain.
          judgements.push(await judge(model, metric, rule, champion, callerOf(c).name));
        }
        const triggered = judgements.some((j) => j.trigger && j.trigger.fate !== 'deduplicated');
        return c.json(
          {
            model,
            recorded: body.points.length,
            judgedVersion: champion,
            metrics: judgements,
          },
          triggered ? 202 : 200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}/metrics',
        summary:
          'Recorded production metrics, oldest first: the newest `limit` points, optionally of one metric and since a time',
        request: { params: ModelParam, query: MetricsQuery },
        responses: {
          200: jsonResponse('Points', z.object({ points: z.array(MetricPoint) })),
          ...errors(400, 401, 404, 503),
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        const { metric, since, limit } = c.req.valid('query');
        await requireModel(deps, model);
        const where: SQL[] = [eq(productionMetrics.model, model)];
        if (metric) where.push(eq(productionMetrics.metric, metric));
        if (since) where.push(gte(productionMetrics.observedAt, new Date(since)));
        const newest = await db
          .select()
          .from(productionMetrics)
          .where(and(...where))
          .orderBy(desc(productionMetrics.observedAt), asc(productionMetrics.id))
          .limit(limit);
        return c.json({ points: newest.reverse() }, 200);
      },
    );
}
