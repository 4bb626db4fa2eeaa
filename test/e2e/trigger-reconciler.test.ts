import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runs, triggers } from '../../db/schema';
import {
  fastPolicy,
  hasEnded,
  registerModel,
  trigger,
  waitForModelToLetGo,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { RECONCILE_GRACE_MS, reconcileTriggers } from '../../triggers/reconcile-triggers';
import { type Stack, startStack } from '../helpers/stack';

/**
 * A trigger is stored (`received`) before its model's workflow decides it and
 * its fate is stored after; a process that dies in between leaves the row
 * `received`. These tests leave rows exactly as such a process would (the
 * insert done, nothing after it; or the workflow's answer lost before it was
 * stored) and check that the reconciler gives each its one fate.
 */
describe('trigger reconciler: every stored trigger reaches exactly one fate', () => {
  let stack: Stack;
  let data: string;
  const deps = () => ({ db: stack.database.db, temporal: stack.client, taskQueues: stack.taskQueues });
  beforeAll(async () => {
    stack = await startStack();
    data = await writeDataset(stack.dataDir, 'data', { rows: 1000, seed: 71 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A row as the API stores it before delivery, `ageMs` ago (or as it marks a failed delivery). */
  async function storedButNotDelivered(
    model: string,
    ageMs: number,
    dedupKey: string | null = null,
    fate: 'received' | 'failed_to_deliver' = 'received',
  ) {
    const [row] = await stack.database.db
      .insert(triggers)
      .values({
        model,
        reason: 'drift',
        details: { monitor: 'psi' },
        dedupKey,
        requestedBy: 'monitor',
        fate,
        receivedAt: sql`now() - make_interval(secs => ${ageMs / 1000})`,
      })
      .returning({ id: triggers.id });
    return row!.id;
  }
  const rowOf = async (id: string) =>
    (await stack.database.db.select().from(triggers).where(eq(triggers.id, id)))[0]!;
  const runsOf = async (model: string) =>
    stack.database.db.select({ id: runs.id, causes: runs.causes }).from(runs).where(eq(runs.model, model));

  it('delivers a trigger whose API process died after storing it: it starts its run, once', async () => {
    const model = 'reconcile-undelivered';
    await registerModel(stack.api(), model, data, fastPolicy({ approval: { required: false } }));
    const fresh = await storedButNotDelivered(model, 1_000);
    const orphan = await storedButNotDelivered(model, RECONCILE_GRACE_MS + 30_000);

    const report = await reconcileTriggers(deps(), { graceMs: RECONCILE_GRACE_MS });
    expect(report).toEqual({ redelivered: 1, givenUp: 0, corrected: 0, unreachable: [] });
    const delivered = await rowOf(orphan);
    expect(delivered.fate).toBe('started');
    expect(delivered.runId).toMatch(/[0-9a-f-]{36}/);
    // Younger than the grace period: its own process may still be delivering it.
    expect((await rowOf(fresh)).fate).toBe('received');

    const run = await waitForRun(stack.api(), model, delivered.runId!, hasEnded);
    expect(run.causes.map((c: { triggerId: string }) => c.triggerId)).toEqual([orphan]);
    await waitForModelToLetGo(stack.api(), model, delivered.runId!);
    // A second round (another control process, say) changes nothing.
    await stack.database.db.update(triggers).set({ fate: 'received' }).where(eq(triggers.id, orphan));
    await stack.database.db
      .update(triggers)
      .set({ receivedAt: sql`now() - interval '5 minutes'` })
      .where(eq(triggers.id, fresh));
    const again = await reconcileTriggers(deps(), { graceMs: RECONCILE_GRACE_MS });
    expect(again.redelivered).toBe(2);
    expect(await rowOf(orphan)).toMatchObject({ fate: 'started', runId: delivered.runId });
    // The fresh one, now old, came after the run ended: it starts a run of its own.
    const second = await rowOf(fresh);
    expect(second.fate).toBe('started');
    expect(second.runId).not.toBe(delivered.runId);
    await waitForRun(stack.api(), model, second.runId!, hasEnded);
    expect((await runsOf(model)).map((r) => r.id).sort()).toEqual([delivered.runId, second.runId].sort());
  });

  it('answers a trigger whose fate was decided but never stored with its first fate, not a second run', async () => {
    const model = 'reconcile-unrecorded';
    await registerModel(stack.api(), model, data, fastPolicy());
    const first = await trigger(stack.api(), model, { reason: 'manual' });
    const joined = await trigger(stack.api('monitor'), model, { reason: 'drift' });
    expect([first.fate, joined.fate]).toEqual(['started', 'queued']);
    // As if the API died between the workflow's answer and the fate's update.
    for (const id of [first.triggerId, joined.triggerId]) {
      await stack.database.db
        .update(triggers)
        .set({ fate: 'received', runId: null, receivedAt: sql`now() - interval '1 minute'` })
        .where(eq(triggers.id, id));
    }

    const report = await reconcileTriggers(deps(), { graceMs: RECONCILE_GRACE_MS });
    expect(report.redelivered).toBe(2);
    expect(await rowOf(first.triggerId)).toMatchObject({ fate: 'started', runId: first.runId });
    expect(await rowOf(joined.triggerId)).toMatchObject({ fate: 'queued', runId: joined.runId });
    // Still one run and one follow-up, each listing its trigger once.
    const state = (await stack.api()('GET', `/v1/models/${model}/runs`)).body.workflow;
    expect(state.current.runId).toBe(first.runId);
    expect(state.pending).toMatchObject({ runId: joined.runId });
    expect(state.pending.causes.map((c: { triggerId: string }) => c.triggerId)).toEqual([joined.triggerId]);
    await expect.poll(async () => (await runsOf(model)).map((r) => r.id)).toEqual([first.runId]);
  });

  it('gives up on a trigger no workflow took within the hour, saying so', async () => {
    const model = 'reconcile-stale';
    await registerModel(stack.api(), model, data, fastPolicy());
    const stale = await storedButNotDelivered(model, 2 * 3_600_000);
    const report = await reconcileTriggers(deps(), { graceMs: RECONCILE_GRACE_MS });
    expect(report).toMatchObject({ givenUp: 1, redelivered: 0 });
    const row = await rowOf(stale);
    expect(row.fate).toBe('failed_to_deliver');
    expect(row.fateReason).toMatch(/no model workflow took it within 60 minutes/);
    expect(await runsOf(model)).toEqual([]);
  });

  it('corrects a failed delivery that the workflow took all the same, and says why of one it did not', async () => {
    const model = 'reconcile-failed';
    await registerModel(stack.api(), model, data, fastPolicy());
    const taken = await trigger(stack.api(), model, { reason: 'manual' });
    expect(taken.fate).toBe('started');
    // As if the update's answer was lost (a Temporal restart) after the workflow took it.
    await stack.database.db
      .update(triggers)
      .set({ fate: 'failed_to_deliver', runId: null, receivedAt: sql`now() - interval '1 minute'` })
      .where(eq(triggers.id, taken.triggerId));
    const lost = await storedButNotDelivered(model, 60_000, null, 'failed_to_deliver');

    const report = await reconcileTriggers(deps(), { graceMs: RECONCILE_GRACE_MS });
    expect(report).toMatchObject({ corrected: 1, redelivered: 0, unreachable: [] });
    expect(await rowOf(taken.triggerId)).toMatchObject({ fate: 'started', runId: taken.runId });
    expect(await rowOf(lost)).toMatchObject({
      fate: 'failed_to_deliver',
      runId: null,
      fateReason: 'its model workflow could not be reached',
    });
    // Settled: the next round leaves both alone, and the one run is the only run.
    expect(await reconcileTriggers(deps(), { graceMs: RECONCILE_GRACE_MS })).toMatchObject({
      corrected: 0,
      redelivered: 0,
    });
    await expect.poll(async () => (await runsOf(model)).map((r) => r.id)).toEqual([taken.runId]);
  });
});
