import { createRoute, z } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import type { ZodError } from 'zod';
import { driftReports } from '../../db/schema';
import { type EvidentlyFormat, fromEvidentlyReport } from '../../domain/drift/evidently-report';
import { type MonitorFeature, type MonitorVerdict, monitorVerdict } from '../../domain/drift/monitor-verdict';
import { parseStoredSection } from '../../domain/policy';
import { driftWorkflowId } from '../../workflows/messages';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import { document, documentOrNull, orNull, TriggerAnswer, timestamp } from '../responses';
import { createRouter } from '../router';
import { DataUri, errors, jsonBody, jsonResponse, ModelParam, writeErrors } from '../schemas';
import { temporalCallError } from '../temporal-errors';
import { requireModel } from './models';
import { submitTriggerForApi } from './triggers';

const MAX_FEATURES = 10_000;
/** Evidently exports one metric per column and kind of test, plus a few summaries. */
const MAX_EVIDENTLY_METRICS = 50_000;

const BatchReport = z
  .object({
    dataUri: DataUri.openapi({
      description:
        'CSV, or Parquet when it ends in .parquet, of current data; ctloop compares it with the champion training data',
    }),
  })
  .strict();

const MonitorReport = z
  .object({
    features: z
      .array(
        z.object({
          name: z.string().min(1).max(200),
          psi: z.number().min(0).optional(),
          pValue: z.number().min(0).max(1).optional(),
        }),
      )
      .min(1)
      .max(MAX_FEATURES),
  })
  .strict();

// Evidently's export as it is (`snapshot.json()` / legacy `report.json()`; other top-level keys
// such as version and timestamp are dropped); fromEvidentlyReport checks the metrics and its
// messages name the bad path.
const EvidentlyReport = z
  .object({
    metrics: z.array(z.unknown()).max(MAX_EVIDENTLY_METRICS).openapi({
      description:
        'An Evidently drift report export (0.7 ValueDrift metrics or legacy drift_by_columns); see docs/drift-reports.md',
    }),
  })
  .openapi('EvidentlyDriftReport');

// Evidently's `Snapshot.dump_dict()` (what `Snapshot.load` reads and a workspace stores); the
// ValueDrift results in metric_results are read, widgets and the rest ignored.
const EvidentlySnapshot = z
  .object({
    metric_results: z.record(z.string(), z.unknown()).openapi({
      description: 'An Evidently 0.7 Snapshot.dump_dict() export; its ValueDrift results are read',
    }),
  })
  .openapi('EvidentlyDriftSnapshot');

const DriftReportBody = z
  .union([BatchReport, MonitorReport, EvidentlyReport, EvidentlySnapshot])
  .openapi('DriftReport');

/** The accepted bodies, each told apart by one key, as the 400 for a body that matches none lists them. */
const SHAPES = [
  {
    key: 'features',
    schema: MonitorReport,
    what: "{features: [{name, psi?, pValue?}]} (a monitor's statistics)",
  },
  {
    key: 'metrics',
    schema: EvidentlyReport,
    what: '{metrics: [...]} (Evidently snapshot.json(), or a legacy report.json())',
  },
  {
    key: 'metric_results',
    schema: EvidentlySnapshot,
    what: '{metric_results: {...}} (Evidently Snapshot.dump_dict())',
  },
  { key: 'dataUri', schema: BatchReport, what: '{dataUri} (a batch of current data for ctloop to compare)' },
] as const;

function described(body: unknown): string {
  if (Array.isArray(body)) return 'an array';
  if (body === null || typeof body !== 'object') return body === null ? 'null' : `a ${typeof body}`;
  const keys = Object.keys(body);
  const shown = keys.slice(0, 10).join(', ') + (keys.length > 10 ? `, … (${keys.length} keys)` : '');
  return keys.length === 0 ? 'an empty object' : `an object with keys ${shown}`;
}

/**
 * A union's failure says only "Invalid input" at the root. The body's key
 * tells which shape was meant: its own issues are reported; a body with none
 * of the keys is told what was expected and what it was.
 */
function driftBodyHook(
  result: { success: true } | { success: false; error: ZodError; target?: string; data?: unknown },
): undefined {
  if (result.success) return undefined;
  const body = result.data;
  const meant =
    result.target === 'json'
      ? SHAPES.find((s) => body !== null && typeof body === 'object' && s.key in body)
      : undefined;
  const own = meant?.schema.safeParse(body);
  if (result.target === 'json' && meant === undefined) {
    const found = described(body);
    throw new ApiError(
      400,
      'invalid_request',
      `invalid request (json): a drift report is one of ${SHAPES.map((s) => s.what).join('; or ')}; found ${found}`,
      { expected: SHAPES.map((s) => s.key), found },
    );
  }
  // The meant shape's own issues; the union's when that shape passes (or the path params failed).
  const error = own && !own.success ? own.error : result.error;
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const listed = issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
  const where = result.target ? ` (${result.target})` : '';
  throw new ApiError(400, 'invalid_request', `invalid request${where}: ${listed}`, { issues });
}
const ReportParams = ModelParam.extend({
  reportId: z.uuid().openapi({ param: { name: 'reportId', in: 'path' } }),
});

const DriftReportRecord = z
  .object({
    id: z.uuid(),
    model: z.string(),
    source: z.string().openapi({ description: 'ctloop (a batch compared here) or monitor' }),
    status: z.string().openapi({ description: 'pending, done or failed' }),
    currentUri: z.string().nullable(),
    referenceUri: z.string().nullable(),
    report: documentOrNull('Per-feature statistics and the verdict'),
    drifted: z.boolean().nullable(),
    error: z.string().nullable(),
    triggerId: z.uuid().nullable(),
    runId: z.string().nullable(),
    requestedBy: z.string(),
    createdAt: timestamp,
    completedAt: timestamp.nullable(),
  })
  .openapi('DriftReportRecord');

const driftErrors = {
  ...writeErrors,
  409: { ...errors(409)[409], description: 'The model workflow refused the drift trigger (`refused`)' },
};

/** Drift reports: a monitor's statistics judged by the model's drift policy, or a batch ctloop compares itself. */
export function driftReportRoutes(deps: ApiDeps) {
  const { db, temporal } = deps;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/drift-reports',
        summary:
          'Report drift: `{features: [{name, psi?, pValue?}]}` from a monitor, an Evidently export `{metrics: [...]}` (snapshot.json()) or `{metric_results: {...}}` (Snapshot.dump_dict()) (judged at once), or `{dataUri}` of a batch ctloop compares with the champion training data (in an activity)',
        request: { params: ModelParam, ...jsonBody(DriftReportBody) },
        responses: {
          201: jsonResponse(
            'A monitor report, judged: drifted or not, and the trigger it caused',
            z.object({
              reportId: z.uuid(),
              drifted: z.boolean(),
              verdict: document('The verdict: format, drifted share, reasons, per-feature judgements'),
              trigger: orNull(TriggerAnswer),
            }),
          ),
          202: jsonResponse(
            'A batch accepted; GET the report for its result',
            z.object({ reportId: z.uuid(), status: z.literal('pending') }),
          ),
          ...driftErrors,
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        const body = c.req.valid('json');
        const registered = await requireModel(deps, model);
        if ('dataUri' in body) {
          const [row] = await db
            .insert(driftReports)
            .values({
              model,
              source: 'ctloop',
              status: 'pending',
              currentUri: body.dataUri,
              requestedBy: callerOf(c).name,
            })
            .returning();
          try {
            await temporal.workflow.start('driftCheckWorkflow', {
              workflowId: driftWorkflowId(model, row!.id),
              taskQueue: deps.taskQueues.control,
              args: [{ model, reportId: row!.id }],
            });
          } catch (err) {
            throw temporalCallError(err, 'drift report');
          }
          return c.json({ reportId: row!.id, status: 'pending' as const }, 202);
        }
        const policy = parseStoredSection(registered.policy, model, 'drift');
        let verdict: MonitorVerdict & { format: 'ctloop' | EvidentlyFormat };
        try {
          let format: 'ctloop' | EvidentlyFormat = 'ctloop';
          let features: readonly MonitorFeature[];
          if ('features' in body) features = body.features;
          else ({ format, features } = fromEvidentlyReport(body));
          verdict = { format, ...monitorVerdict(features, policy) };
        } catch (err) {
          throw new ApiError(400, 'invalid_request', (err as Error).message);
        }
        const [row] = await db
          .insert(driftReports)
          .values({
            model,
            source: 'monitor',
            status: 'done',
            report: verdict,
            drifted: verdict.drifted,
            requestedBy: callerOf(c).name,
            completedAt: new Date(),
          })
          .returning();
        let trigger = null;
        if (verdict.drifted) {
          trigger = (
            await submitTriggerForApi(deps, model, {
              reason: 'drift',
              details: { driftReportId: row!.id, share: verdict.share, reasons: verdict.reasons },
              dedupKey: `drift-report/${row!.id}`,
              requestedBy: callerOf(c).name,
            })
          ).body;
          await db
            .update(driftReports)
            .set({ triggerId: trigger.triggerId, runId: trigger.runId })
            .where(eq(driftReports.id, row!.id));
        }
        return c.json({ reportId: row!.id, drifted: verdict.drifted, verdict, trigger }, 201);
      },
      driftBodyHook,
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}/drift-reports/{reportId}',
        summary: 'A drift report: status, per-feature statistics, verdict, and the run it triggered',
        request: { params: ReportParams },
        responses: { 200: jsonResponse('The report', DriftReportRecord), ...errors(400, 401, 404, 503) },
      }),
      async (c) => {
        const { model, reportId } = c.req.valid('param');
        await requireModel(deps, model);
        const [row] = await db
          .select()
          .from(driftReports)
          .where(and(eq(driftReports.model, model), eq(driftReports.id, reportId)));
        if (!row) throw notFound(`drift report ${reportId} of model ${model}`);
        return c.json(row, 200);
      },
    );
}
