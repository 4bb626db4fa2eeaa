import { z } from '@hono/zod-openapi';
import type { ScheduleDescription, ScheduleSpec } from '@temporalio/client';
import { cronProblem } from '../domain/cron';
import type { RetrainScheduleSpec, ScheduledTriggerInput } from '../workflows/messages';
import { ApiError } from './errors';
import { ModelParam } from './schemas';

/**
 * A retrain schedule as the API speaks of it: the request schemas, the spec
 * they make (and how a PATCH changes it), its translation into a Temporal
 * Schedule spec, and the view of a schedule that responses show.
 */

// ---- schemas ------------------------------------------------------------------------------

export const ScheduleParams = ModelParam.extend({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'schedule names are lowercase letters, digits, ".", "_" or "-"')
    .openapi({ param: { name: 'name', in: 'path' }, example: 'nightly' }),
});

const Cron = z
  .string()
  .max(200)
  .superRefine((value, ctx) => {
    const problem = cronProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `invalid cron expression: ${problem}` });
  })
  .openapi({ example: '0 3 * * *' });

/** The IANA name as the runtime spells it ("europe/paris" → "Europe/Paris"), or null if it knows no such zone. */
function canonicalTimeZone(name: string): string | null {
  // Offsets like "+02:00" are valid for Intl but not IANA names; the scheduler wants a name.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

const TimeZone = z
  .string()
  .max(100)
  .refine((tz) => canonicalTimeZone(tz) !== null, 'unknown time zone: give an IANA name like Europe/Paris')
  .openapi({ example: 'Europe/Paris' });

const timing = {
  cron: Cron.optional(),
  intervalSeconds: z
    .number()
    .int()
    .min(1)
    .max(366 * 86_400)
    .optional(),
  offsetSeconds: z
    .number()
    .int()
    .min(0)
    .max(366 * 86_400 - 1)
    .optional(),
  jitterSeconds: z.number().int().min(0).max(86_400).optional(),
  timezone: TimeZone.optional(),
};

/** Refuses both or neither of cron and intervalSeconds (`required`), and an offset that does not fit. */
function checkTiming(
  body: { cron?: string; intervalSeconds?: number; offsetSeconds?: number },
  ctx: z.RefinementCtx,
  required: boolean,
) {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (body.cron !== undefined && body.intervalSeconds !== undefined) {
    issue('cron', 'give cron or intervalSeconds, not both');
  } else if (required && body.cron === undefined && body.intervalSeconds === undefined) {
    issue('cron', 'give one of cron or intervalSeconds');
  }
  if (body.offsetSeconds !== undefined && body.cron !== undefined) {
    issue('offsetSeconds', 'offsetSeconds applies to intervalSeconds only');
  }
  if (
    body.offsetSeconds !== undefined &&
    body.intervalSeconds !== undefined &&
    body.offsetSeconds >= body.intervalSeconds
  ) {
    issue('offsetSeconds', 'offsetSeconds must be less than intervalSeconds');
  }
}

export const CreateScheduleBody = z
  .strictObject({
    name: ScheduleParams.shape.name,
    ...timing,
    paused: z.boolean().default(false),
    note: z.string().max(1000).optional(),
  })
  .superRefine((body, ctx) => checkTiming(body, ctx, true))
  .openapi('CreateSchedule');

export const UpdateScheduleBody = z
  .strictObject({ ...timing, note: z.string().max(1000).optional() })
  .superRefine((body, ctx) => checkTiming(body, ctx, false))
  .openapi('UpdateSchedule');

export const ScheduleActionBody = z
  .strictObject({ note: z.string().max(1000).optional() })
  .openapi('ScheduleAction');

// ---- Temporal -------------------------------------------------------------------------------

/**
 * Missed firings are taken up to a minute late after the Temporal service was
 * unavailable, and dropped beyond that: a retrain that comes hours late helps
 * less than the next regular one, and a burst of them after an outage would
 * only coalesce into one run anyway.
 */
export const CATCHUP_WINDOW = '1 minute';

export function temporalSpec(spec: RetrainScheduleSpec): ScheduleSpec {
  return {
    ...(spec.cron !== undefined
      ? { cronExpressions: [spec.cron] }
      : { intervals: [{ every: spec.intervalSeconds! * 1000, offset: (spec.offsetSeconds ?? 0) * 1000 }] }),
    timezone: spec.timezone,
    jitter: spec.jitterSeconds * 1000,
  };
}

/** The spec of a new schedule: defaults filled in, the time zone as the runtime spells it. */
export function specFromCreate(given: z.infer<typeof CreateScheduleBody>): RetrainScheduleSpec {
  return {
    ...(given.cron !== undefined
      ? { cron: given.cron.trim() }
      : { intervalSeconds: given.intervalSeconds!, offsetSeconds: given.offsetSeconds ?? 0 }),
    timezone: canonicalTimeZone(given.timezone ?? 'UTC')!,
    jitterSeconds: given.jitterSeconds ?? 0,
  };
}

/** The spec after a PATCH: a new cron or interval replaces the other kind; other fields keep their value. */
export function nextSpec(
  current: RetrainScheduleSpec,
  changes: {
    cron?: string;
    intervalSeconds?: number;
    offsetSeconds?: number;
    timezone?: string;
    jitterSeconds?: number;
  },
): RetrainScheduleSpec {
  const usesCron =
    changes.cron !== undefined || (changes.intervalSeconds === undefined && current.cron !== undefined);
  if (usesCron && changes.offsetSeconds !== undefined) {
    throw new ApiError(400, 'invalid_request', 'offsetSeconds applies to intervalSeconds only', {
      issues: [{ path: 'offsetSeconds', message: 'the schedule uses cron' }],
    });
  }
  const interval = changes.intervalSeconds ?? current.intervalSeconds;
  const offset =
    changes.offsetSeconds ?? (changes.intervalSeconds !== undefined ? 0 : (current.offsetSeconds ?? 0));
  if (!usesCron && offset >= interval!) {
    throw new ApiError(400, 'invalid_request', 'offsetSeconds must be less than intervalSeconds', {
      issues: [{ path: 'offsetSeconds', message: `${offset} ≥ ${interval}` }],
    });
  }
  return {
    ...(usesCron
      ? { cron: (changes.cron ?? current.cron)!.trim() }
      : { intervalSeconds: interval!, offsetSeconds: offset }),
    timezone: changes.timezone !== undefined ? canonicalTimeZone(changes.timezone)! : current.timezone,
    jitterSeconds: changes.jitterSeconds ?? current.jitterSeconds,
  };
}

export const ScheduleView = z
  .object({
    model: z.string(),
    name: z.string(),
    scheduleId: z.string(),
    spec: z
      .object({
        cron: z.string().optional(),
        intervalSeconds: z.number().int().optional(),
        offsetSeconds: z.number().int().optional(),
        timezone: z.string(),
        jitterSeconds: z.number().int(),
      })
      .nullable()
      .openapi({ description: 'null for a schedule not created through this API' }),
    state: z.enum(['active', 'paused']),
    paused: z.boolean(),
    note: z.string().nullable(),
    nextRunTimes: z.array(z.string().openapi({ format: 'date-time' })),
    recentActions: z.array(
      z.object({
        scheduledAt: z.string().openapi({ format: 'date-time' }),
        takenAt: z.string().openapi({ format: 'date-time' }),
        workflowId: z.string(),
      }),
    ),
    actionsTaken: z.number().int(),
    skippedOverlap: z.number().int(),
    missedCatchupWindow: z.number().int(),
    policies: z.object({ overlap: z.string().optional(), catchupWindowSeconds: z.number() }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }).nullable(),
  })
  .openapi('Schedule');

/** A schedule as responses show it: the spec as given, its state, its next five and recent firings. */
export function scheduleView(
  model: string,
  name: string,
  d: ScheduleDescription,
): z.infer<typeof ScheduleView> {
  const input = d.action.args?.[0] as ScheduledTriggerInput | undefined;
  return {
    model,
    name,
    scheduleId: d.scheduleId,
    spec: input?.spec ?? null,
    state: d.state.paused ? 'paused' : 'active',
    paused: d.state.paused,
    note: d.state.note || null, // Temporal keeps an absent note as ''
    nextRunTimes: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
    recentActions: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      takenAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
    actionsTaken: d.info.numActionsTaken,
    skippedOverlap: d.info.numActionsSkippedOverlap,
    missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
    policies: { overlap: d.policies.overlap, catchupWindowSeconds: d.policies.catchupWindow / 1000 },
    createdAt: d.info.createdAt.toISOString(),
    updatedAt: d.info.lastUpdatedAt?.toISOString() ?? null,
  };
}
