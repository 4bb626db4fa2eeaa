import { createRoute, z } from '@hono/zod-openapi';
import {
  isGrpcServiceError,
  ScheduleAlreadyRunning,
  type ScheduleHandle,
  ScheduleNotFoundError,
  ServiceError,
} from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { auditEvents } from '../../db/schema';
import type { scheduledTriggerWorkflow } from '../../workflows';
import {
  ctModelKey,
  type RetrainScheduleSpec,
  type ScheduledTriggerInput,
  scheduleId,
} from '../../workflows/messages';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import { createRouter } from '../router';
import {
  CATCHUP_WINDOW,
  CreateScheduleBody,
  nextSpec,
  ScheduleActionBody,
  ScheduleParams,
  ScheduleView,
  scheduleView,
  specFromCreate,
  temporalSpec,
  UpdateScheduleBody,
} from '../schedule-spec';
import { errors, jsonBody, jsonResponse, ModelParam } from '../schemas';

/** 400 also when Temporal refuses the spec; 409 for a name taken or a schedule made elsewhere. */
const scheduleErrors = errors(400, 401, 403, 404, 409, 413, 415, 503);
const readScheduleErrors = errors(400, 401, 404, 503);

import { temporalCallError } from '../temporal-errors';
import { requireModel } from './models';

/** What Temporal says about a schedule, as API errors: 404, 409, 400 for a spec it refuses, else 503. */
function scheduleCallError(err: unknown, model: string, name: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ScheduleNotFoundError) return notFound(`schedule ${name} of model ${model}`);
  if (err instanceof ScheduleAlreadyRunning) {
    return new ApiError(409, 'schedule_exists', `model ${model} already has a schedule named ${name}`, {
      scheduleId: scheduleId(model, name),
    });
  }
  // The schedule client turns "Invalid schedule spec" into a TypeError; other refusals stay gRPC errors.
  const grpc = err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : null;
  if (err instanceof TypeError || grpc?.code === 3 /* INVALID_ARGUMENT */) {
    const message = grpc?.details ?? (err as Error).message;
    return new ApiError(400, 'invalid_request', `Temporal refused the schedule: ${message}`, {
      field: 'spec',
    });
  }
  return temporalCallError(err, `schedule ${name}`);
}

// ---- routes ---------------------------------------------------------------------------------

/** Per-model retrain schedules, kept as Temporal Schedules (visible and editable in the Temporal UI too). */
export function scheduleRoutes(deps: ApiDeps) {
  const { db, temporal, taskQueues } = deps;
  const handleOf = (model: string, name: string) => temporal.schedule.getHandle(scheduleId(model, name));

  const audit = (model: string, kind: string, by: string, note: string | undefined, details: object) =>
    db.insert(auditEvents).values({ model, kind, actor: by, reason: note ?? null, details });

  /** Runs a Temporal call on a schedule of a registered model, mapping its errors. */
  const onSchedule = async <T>(
    model: string,
    name: string,
    call: (handle: ScheduleHandle) => Promise<T>,
  ): Promise<T> => {
    await requireModel(deps, model);
    try {
      return await call(handleOf(model, name));
    } catch (err) {
      throw scheduleCallError(err, model, name);
    }
  };

  const describe = (model: string, name: string) =>
    onSchedule(model, name, async (h) => scheduleView(model, name, await h.describe()));

  /**
   * The schedule names of a model: those Temporal's visibility store lists
   * (it lags behind by a moment) and those this API created (read from the
   * audit trail, so a schedule shows up at once after it is created).
   */
  const scheduleNames = async (model: string): Promise<string[]> => {
    const names = new Set<string>();
    const prefix = scheduleId(model, '');
    try {
      for await (const s of temporal.schedule.list({ query: `CtModel = '${model}'` })) {
        if (s.scheduleId.startsWith(prefix)) names.add(s.scheduleId.slice(prefix.length));
      }
    } catch (err) {
      // Without visibility (or the CtModel attribute) the audit trail still names ours.
      deps.log.warn({ err, model }, 'listing schedules from Temporal visibility failed');
    }
    const created = await db
      .select({ details: auditEvents.details })
      .from(auditEvents)
      .where(and(eq(auditEvents.model, model), eq(auditEvents.kind, 'schedule_created')));
    for (const row of created) {
      const name = (row.details as { name?: unknown }).name;
      if (typeof name === 'string') names.add(name);
    }
    return [...names].sort();
  };

  const stateChange = (action: 'pause' | 'unpause') =>
    createRoute({
      method: 'post',
      path: `/models/{model}/schedules/{name}/${action}`,
      summary: `${action === 'pause' ? 'Pause' : 'Resume'} a schedule, with a note saying why`,
      request: { params: ScheduleParams, ...jsonBody(ScheduleActionBody) },
      responses: {
        200: jsonResponse('The schedule', ScheduleView),
        ...errors(400, 401, 403, 404, 413, 415, 503),
      },
    });

  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/schedules',
        summary:
          'Create a retrain schedule (cron or interval, time zone, jitter); overlapping firings are skipped',
        request: { params: ModelParam, ...jsonBody(CreateScheduleBody) },
        responses: {
          201: jsonResponse('The schedule, with its next run times', ScheduleView),
          ...scheduleErrors,
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        const body = c.req.valid('json');
        const { name, note, paused } = body;
        const by = callerOf(c).name;
        const spec = specFromCreate(body);
        const input: ScheduledTriggerInput = { model, name, spec };
        await onSchedule(model, name, () =>
          temporal.schedule.create<typeof scheduledTriggerWorkflow>({
            scheduleId: scheduleId(model, name),
            spec: temporalSpec(spec),
            action: {
              type: 'startWorkflow',
              workflowType: 'scheduledTriggerWorkflow',
              // The scheduler appends each firing's nominal time to this id.
              workflowId: scheduleId(model, name),
              taskQueue: taskQueues.control,
              args: [input],
              typedSearchAttributes: [{ key: ctModelKey, value: model }],
            },
            policies: { overlap: 'SKIP', catchupWindow: CATCHUP_WINDOW },
            typedSearchAttributes: [{ key: ctModelKey, value: model }],
            state: { paused, ...(note !== undefined ? { note } : {}) },
          }),
        );
        await audit(model, 'schedule_created', by, note, { name, spec, paused });
        return c.json(await describe(model, name), 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}/schedules',
        summary: "A model's schedules: state, note, next run times, recent firings",
        request: { params: ModelParam },
        responses: {
          200: jsonResponse('Schedules, by name', z.object({ schedules: z.array(ScheduleView) })),
          ...readScheduleErrors,
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        await requireModel(deps, model);
        const found = await Promise.all(
          (await scheduleNames(model)).map((name) =>
            describe(model, name).catch((err) => {
              if (err instanceof ApiError && err.status === 404) return null; // deleted since
              throw err;
            }),
          ),
        );
        return c.json({ schedules: found.filter((s) => s !== null) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/models/{model}/schedules/{name}',
        summary: 'A schedule: spec, state, note, next run times, recent firings',
        request: { params: ScheduleParams },
        responses: {
          200: jsonResponse('The schedule', ScheduleView),
          ...errors(400, 401, 403, 404, 413, 415, 503),
        },
      }),
      async (c) => {
        const { model, name } = c.req.valid('param');
        return c.json(await describe(model, name), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'patch',
        path: '/models/{model}/schedules/{name}',
        summary: 'Change when a schedule fires (cron or interval, time zone, jitter) or its note',
        request: { params: ScheduleParams, ...jsonBody(UpdateScheduleBody) },
        responses: { 200: jsonResponse('The updated schedule', ScheduleView), ...scheduleErrors },
      }),
      async (c) => {
        const { model, name } = c.req.valid('param');
        const { note, ...changes } = c.req.valid('json');
        const by = callerOf(c).name;
        if (Object.keys(changes).length === 0 && note === undefined) {
          throw new ApiError(400, 'invalid_request', 'nothing to change: give a timing field or a note');
        }
        let spec: RetrainScheduleSpec | null = null;
        await onSchedule(model, name, (h) =>
          h.update<typeof scheduledTriggerWorkflow>((previous) => {
            const input = previous.action.args?.[0] as ScheduledTriggerInput | undefined;
            if (!input?.spec) {
              throw new ApiError(409, 'not_managed', `schedule ${name} was not created through this API`);
            }
            spec = nextSpec(input.spec, changes);
            return {
              ...previous,
              spec: temporalSpec(spec),
              action: { ...previous.action, args: [{ ...input, spec }] },
              state: { ...previous.state, ...(note !== undefined ? { note } : {}) },
            };
          }),
        );
        await audit(model, 'schedule_updated', by, note, { name, spec });
        return c.json(await describe(model, name), 200);
      },
    )
    .openapi(stateChange('pause'), async (c) => {
      const { model, name } = c.req.valid('param');
      const { note } = c.req.valid('json');
      const by = callerOf(c).name;
      await onSchedule(model, name, (h) => h.pause(note ?? `paused by ${by}`));
      await audit(model, 'schedule_paused', by, note, { name });
      return c.json(await describe(model, name), 200);
    })
    .openapi(stateChange('unpause'), async (c) => {
      const { model, name } = c.req.valid('param');
      const { note } = c.req.valid('json');
      const by = callerOf(c).name;
      await onSchedule(model, name, (h) => h.unpause(note ?? `resumed by ${by}`));
      await audit(model, 'schedule_unpaused', by, note, { name });
      return c.json(await describe(model, name), 200);
    })
    .openapi(
      createRoute({
        method: 'delete',
        path: '/models/{model}/schedules/{name}',
        summary: 'Delete a schedule (runs it already triggered go on)',
        request: {
          params: ScheduleParams,
          body: { required: false, content: { 'application/json': { schema: ScheduleActionBody } } },
        },
        responses: { 204: { description: 'Deleted' }, ...errors(400, 401, 403, 404, 415, 503) },
      }),
      async (c) => {
        const { model, name } = c.req.valid('param');
        // The body is optional here, and an absent one skips validation (and its defaults).
        const { note } = c.req.valid('json');
        const by = callerOf(c).name;
        await onSchedule(model, name, (h) => h.delete());
        await audit(model, 'schedule_deleted', by, note, { name });
        return c.body(null, 204);
      },
    );
}
