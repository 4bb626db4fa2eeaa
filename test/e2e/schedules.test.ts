import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import type { Api } from '../../api/client';
import { auditFor } from '../../db/registry';
import { fastPolicy, getRun, registerModel, writeDataset } from '../../scripts/lib/scenario';
import { scheduleId } from '../../workflows/messages';
import { type Stack, startStack } from '../helpers/stack';

/** The hour on a wall clock in `timeZone` at the instant `iso`. */
const hourIn = (iso: string, timeZone: string) =>
  Number(
    new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(new Date(iso)),
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('schedules: retrains on a timetable, as Temporal Schedules managed through the API', () => {
  let stack: Stack;
  let api: Api;
  let data: string;
  // Schedule ids are global on the Temporal server: models get a suffix, and schedules are deleted after.
  const suffix = randomUUID().slice(0, 6);
  const created: { model: string; name: string }[] = [];

  const newModel = async (label: string) => {
    const model = `sched-${label}-${suffix}`;
    await registerModel(stack.api(), model, data, fastPolicy());
    return model;
  };
  const createSchedule = async (model: string, body: Record<string, unknown>) => {
    const res = await api('POST', `/v1/models/${model}/schedules`, body);
    if (res.status === 201) created.push({ model, name: body.name as string });
    return res;
  };
  const firstRun = async (model: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const runs = (await api('GET', `/v1/models/${model}/runs`)).body.runs as { id: string }[];
      if (runs.length > 0) return getRun(api, model, runs.at(-1)!.id);
      await sleep(200);
    }
    throw new Error(`no run of ${model} within ${timeoutMs} ms`);
  };

  beforeAll(async () => {
    stack = await startStack();
    api = stack.api('olga');
    data = await writeDataset(stack.dataDir, 'data', { rows: 600, seed: 5 });
  });
  afterAll(async () => {
    for (const { model, name } of created) {
      await stack?.client.schedule
        .getHandle(scheduleId(model, name))
        .delete()
        .catch(() => {});
    }
    await stack?.close();
  });

  it('refuses bad specs, unknown models and duplicate names with JSON errors', async () => {
    const model = await newModel('errors');
    const refused = async (body: Record<string, unknown>, field: string) => {
      const res = await createSchedule(model, { name: 'bad', ...body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(field);
      return res.body.error.message as string;
    };
    expect(await refused({ cron: '0 25 * * *' }, 'cron')).toContain('hour 25 is outside 0-23');
    expect(await refused({ cron: 'every day' }, 'cron')).toContain('invalid cron expression');
    expect(await refused({ cron: '0 3 * * *', timezone: 'Mars/Olympus' }, 'timezone')).toContain(
      'unknown time zone',
    );
    expect(await refused({ cron: '0 3 * * *', intervalSeconds: 60 }, 'cron')).toContain('not both');
    expect(await refused({}, 'cron')).toContain('one of cron or intervalSeconds');
    await refused({ intervalSeconds: 60, offsetSeconds: 60 }, 'offsetSeconds');
    await refused({ intervalSeconds: 60, every: 5 }, '');

    const unknown = await api('POST', '/v1/models/no-such-model/schedules', {
      name: 'x',
      intervalSeconds: 60,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    expect((await api('GET', '/v1/models/no-such-model/schedules')).status).toBe(404);

    expect((await createSchedule(model, { name: 'hourly', intervalSeconds: 3600 })).status).toBe(201);
    const again = await createSchedule(model, { name: 'hourly', cron: '0 * * * *' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('schedule_exists');
    expect((await api('GET', `/v1/models/${model}/schedules/nope`)).status).toBe(404);
    expect((await api('POST', `/v1/models/${model}/schedules/nope/pause`, {})).status).toBe(404);
    expect((await api('PATCH', `/v1/models/${model}/schedules/hourly`, {})).status).toBe(400);
  });

  it('fires on the server: the model gets a run caused by the schedule; deleted, it is gone', async () => {
    const model = await newModel('fires');
    const res = await createSchedule(model, { name: 'often', intervalSeconds: 2 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      scheduleId: `ct-schedule/${model}/often`,
      state: 'active',
      spec: { intervalSeconds: 2, offsetSeconds: 0, timezone: 'UTC', jitterSeconds: 0 },
      policies: { overlap: 'SKIP', catchupWindowSeconds: 60 },
    });

    const run = await firstRun(model, 20_000);
    const cause = run.causes[0] as unknown as {
      reason: string;
      requestedBy: string;
      details: { scheduleId: string; scheduledTime: string };
    };
    expect(cause.reason).toBe('schedule');
    expect(cause.requestedBy).toBe(`schedule:ct-schedule/${model}/often`);
    expect(cause.details.scheduleId).toBe(`ct-schedule/${model}/often`);

    // The firing's nominal time is the schedule's own record of it (no jitter here, so they agree).
    const schedule = (await api('GET', `/v1/models/${model}/schedules/often`)).body;
    expect(schedule.actionsTaken).toBeGreaterThanOrEqual(1);
    expect(schedule.recentActions.map((a: { scheduledAt: string }) => a.scheduledAt)).toContain(
      cause.details.scheduledTime,
    );

    const deleted = await api('DELETE', `/v1/models/${model}/schedules/often`, {});
    expect(deleted.status).toBe(204);
    expect((await api('GET', `/v1/models/${model}/schedules/often`)).status).toBe(404);
    expect((await api('GET', `/v1/models/${model}/schedules`)).body.schedules).toEqual([]);
    expect((await api('DELETE', `/v1/models/${model}/schedules/often`)).status).toBe(404);
    const audit = (await auditFor(stack.database.db, model)).map((e) => [e.kind, e.actor]);
    expect(audit).toContainEqual(['schedule_created', 'olga']);
    expect(audit).toContainEqual(['schedule_deleted', 'olga']);
  });

  it('triggers once per firing even when the firing is retried', async () => {
    const model = await newModel('dedup');
    const { submitScheduledTrigger } = createActivities(stack.deps);
    const firing = {
      model,
      scheduleId: scheduleId(model, 'nightly'),
      scheduledTime: '2030-01-01T02:00:00.000Z',
    };
    const first = await submitScheduledTrigger(firing);
    const retried = await submitScheduledTrigger(firing);
    expect(first.fate).toBe('started');
    // The retry is recorded as a trigger of its own, deduplicated onto the first one's run.
    expect(retried).toMatchObject({ fate: 'deduplicated', runId: first.runId });
    expect(retried.triggerId).not.toBe(first.triggerId);
  });

  it('does not fire while paused, and fires once resumed', async () => {
    const model = await newModel('paused');
    const res = await createSchedule(model, {
      name: 'held',
      intervalSeconds: 2,
      paused: true,
      note: 'waiting for the new labels',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'paused', paused: true, note: 'waiting for the new labels' });

    await sleep(7_000); // three intervals and a bit
    expect((await api('GET', `/v1/models/${model}/runs`)).body.runs).toEqual([]);
    expect((await api('GET', `/v1/models/${model}/schedules/held`)).body).toMatchObject({
      actionsTaken: 0,
      recentActions: [],
    });

    const resumed = await api('POST', `/v1/models/${model}/schedules/held/unpause`, {
      note: 'labels are in',
    });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ state: 'active', note: 'labels are in' });
    expect((await firstRun(model, 20_000)).causes[0]?.reason).toBe('schedule');

    const paused = await api('POST', `/v1/models/${model}/schedules/held/pause`, {});
    expect(paused.body).toMatchObject({ state: 'paused', note: 'paused by olga' });
    const audit = (await auditFor(stack.database.db, model)).map((e) => [e.kind, e.actor, e.reason]);
    expect(audit).toContainEqual(['schedule_unpaused', 'olga', 'labels are in']);
    expect(audit).toContainEqual(['schedule_paused', 'olga', null]);
  });

  it('lists schedules with their next run times, and an update changes when they fire', async () => {
    const model = await newModel('timetable');
    // 03:00 on the first of January, Paris time: never during this test.
    const cron = await createSchedule(model, {
      name: 'new-year',
      cron: '0 3 1 1 *',
      timezone: 'Europe/Paris',
    });
    expect(cron.status).toBe(201);
    await createSchedule(model, {
      name: 'hourly',
      intervalSeconds: 3600,
      offsetSeconds: 60,
      jitterSeconds: 30,
    });

    const listed = (await api('GET', `/v1/models/${model}/schedules`)).body.schedules;
    expect(listed.map((s: { name: string }) => s.name)).toEqual(['hourly', 'new-year']);
    const now = Date.now();
    for (const s of listed) {
      expect(s.nextRunTimes.length).toBe(5);
      const times = s.nextRunTimes.map((t: string) => Date.parse(t));
      expect(times[0]).toBeGreaterThan(now);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
    }
    const newYear = listed.find((s: { name: string }) => s.name === 'new-year');
    for (const t of newYear.nextRunTimes) {
      expect(hourIn(t, 'Europe/Paris')).toBe(3);
      expect(t.slice(5, 10)).toMatch(/^(12-31|01-01)$/);
    }

    const moved = await api('PATCH', `/v1/models/${model}/schedules/new-year`, {
      timezone: 'America/New_York',
      note: 'follow the US team',
    });
    expect(moved.status).toBe(200);
    expect(moved.body.spec).toEqual({ cron: '0 3 1 1 *', timezone: 'America/New_York', jitterSeconds: 0 });
    expect(moved.body.note).toBe('follow the US team');
    for (const t of moved.body.nextRunTimes) expect(hourIn(t, 'America/New_York')).toBe(3);

    const toInterval = await api('PATCH', `/v1/models/${model}/schedules/new-year`, {
      intervalSeconds: 86_400,
    });
    expect(toInterval.status).toBe(200);
    expect(toInterval.body.spec).toEqual({
      intervalSeconds: 86_400,
      offsetSeconds: 0,
      timezone: 'America/New_York',
      jitterSeconds: 0,
    });
    const days = toInterval.body.nextRunTimes.map((t: string) => Date.parse(t));
    expect(days[1] - days[0]).toBe(86_400_000);
    expect(new Date(days[0]).toISOString()).toMatch(/T00:00:00\.000Z$/);

    const badUpdate = await api('PATCH', `/v1/models/${model}/schedules/new-year`, { cron: '0 3 * *' });
    expect(badUpdate.status).toBe(400);
    expect(badUpdate.body.error.details.issues[0].path).toBe('cron');
  });
});
