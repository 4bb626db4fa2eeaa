import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { and, asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../../api/client';
import { findModel } from '../../db/registry';
import { auditEvents, triggers } from '../../db/schema';
import { parseTriggerPolicy } from '../../domain/policy';
import {
  bootstrapChampion,
  decide,
  expectStatus,
  fastPolicy,
  hasEnded,
  inStage,
  registerModel,
  sendTraffic,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { deliverStored } from '../../triggers/submit-trigger';
import {
  type ModelState,
  modelStateQuery,
  modelWorkflowId,
  runStateQuery,
  runWorkflowId,
  triggerBatchUpdate,
} from '../../workflows/messages';
import { recordHistory, recordingHistories } from '../helpers/histories';
import { startModelWorkflow } from '../helpers/model-workflow';
import { type Stack, startStack } from '../helpers/stack';

interface TriggerAnswer {
  readonly triggerId: string;
  readonly fate: string;
  readonly runId: string | null;
  readonly reason?: string;
  readonly duplicateOf?: string;
}

describe('trigger governance: storms, dedup TTL, cooldowns, budget, canary holds, freeze', () => {
  let stack: Stack;
  let api: Api;
  /** The operator on call, the approver, and the drift monitor, each with a token of their own. */
  let olga: Api;
  let bob: Api;
  let monitor: Api;
  let data: string;
  let drifted: string;
  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    olga = stack.api('olga');
    bob = stack.api('bob');
    monitor = stack.api('monitor');
    // As in the rollback tests: a candidate trained on the drifted data beats the champion.
    data = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 21 });
    drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 22, shift: 1.5 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const modelState = (model: string) =>
    stack.client.workflow.getHandle(modelWorkflowId(model)).query(modelStateQuery);

  async function waitForModel(model: string, predicate: (s: ModelState) => boolean, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await modelState(model);
      if (predicate(state)) return state;
      if (Date.now() > deadline)
        throw new Error(`model ${model} never reached the state: ${JSON.stringify(state)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A trigger through the API, with the fields of a governed answer. */
  async function send(model: string, body: Record<string, unknown>, as?: Api) {
    const res = await (as ?? api)('POST', `/v1/models/${model}/triggers`, body);
    return expectStatus(res, 200, 202) as TriggerAnswer;
  }

  /** Starts the model's workflow as the API would, but with a tiny history allowance (60 events). */
  const startWithTinyHistoryAllowance = (model: string) =>
    startModelWorkflow(stack, model, { maxHistoryEvents: 60 });

  const rowsOf = (model: string) =>
    stack.database.db
      .select()
      .from(triggers)
      .where(eq(triggers.model, model))
      .orderBy(asc(triggers.receivedAt));

  it('turns a storm of 200 drift alerts into one run and one follow-up, accounting for every alert', async () => {
    const model = 'storm';
    await registerModel(api, model, data, fastPolicy());
    // Half the alerts are re-deliveries of five alerts (20 each), the other half are distinct.
    const alerts = Array.from({ length: 200 }, (_, i) => ({
      reason: 'drift',
      details: { alert: i },
      ...(i % 2 === 0 ? { dedupKey: `monitor/alert-${i % 10}` } : {}),
    }));
    const began = Date.now();
    const answers = await Promise.all(alerts.map((a) => monitor('POST', `/v1/models/${model}/triggers`, a)));
    const stormSeconds = (Date.now() - began) / 1000;
    console.log(`storm: 200 triggers answered in ${stormSeconds.toFixed(2)} s`);
    expect(stormSeconds).toBeLessThan(30);

    const fates = answers.map((a) => a.body.fate as string);
    const count = (list: string[]) =>
      Object.fromEntries([...new Set(list)].sort().map((f) => [f, list.filter((x) => x === f).length]));
    // Five keys: the first alert of each counts, the other 19 are duplicates.
    expect(count(fates)).toEqual({ started: 1, queued: 1, joined: 103, deduplicated: 95 });
    expect(answers.every((a) => a.status === (a.body.fate === 'deduplicated' ? 200 : 202))).toBe(true);
    const first = answers.find((a) => a.body.fate === 'started')!.body.runId as string;
    const followUp = answers.find((a) => a.body.fate === 'queued')!.body.runId as string;
    expect(new Set(answers.map((a) => a.body.runId))).toEqual(new Set([first, followUp]));

    // Every alert is stored with its final fate, and the stored fates add up to 200.
    const rows = await rowsOf(model);
    expect(rows).toHaveLength(200);
    expect(count(rows.map((r) => r.fate))).toEqual(count(fates));
    for (const row of rows.filter((r) => r.fate === 'deduplicated')) {
      const earlier = rows.find((r) => r.id === row.fateReason?.replace('duplicate of trigger ', ''));
      expect(earlier?.dedupKey).toBe(row.dedupKey);
      expect(row.runId).toBe(earlier?.runId);
    }

    await waitForRun(api, model, first, inStage('approve'));
    await decide(bob, model, first, 'reject', 'storm drill');
    const next = await waitForRun(api, model, followUp, inStage('approve'));
    // The follow-up answers every alert that was not a duplicate (and not the first run's own).
    expect(next.causes).toHaveLength(104);
    await decide(bob, model, followUp, 'reject', 'storm drill');
    await waitForRun(api, model, followUp, hasEnded);
    const runs = (await api('GET', `/v1/models/${model}/runs`)).body.runs;
    expect(runs.map((r: { id: string }) => r.id).sort()).toEqual([first, followUp].sort());
  });

  it('forgets a dedup key after its TTL, so a recurring alert counts again', async () => {
    const model = 'dedup-ttl';
    await registerModel(api, model, data, fastPolicy({ triggers: { dedupTtlSeconds: 2 } }));
    const alert = { reason: 'drift', dedupKey: 'monitor/feature-x' };
    const first = await trigger(monitor, model, alert);
    const again = await send(model, alert, monitor);
    expect(first.fate).toBe('started');
    expect(again).toMatchObject({ fate: 'deduplicated', runId: first.runId, duplicateOf: first.triggerId });

    await new Promise((r) => setTimeout(r, 2_500));
    const later = await trigger(monitor, model, alert);
    expect(later.fate).toBe('queued');
    expect(later.runId).not.toBe(first.runId);
    const rows = await rowsOf(model);
    expect(rows.map((r) => [r.fate, r.dedupKey])).toEqual([
      ['started', alert.dedupKey],
      ['deduplicated', alert.dedupKey],
      ['queued', alert.dedupKey],
    ]);
  });

  it('suppresses a run beyond the daily budget, a manual one too, and says why', async () => {
    const model = 'budget';
    await registerModel(api, model, data, fastPolicy({ triggers: { dailyRunBudget: 1 } }));
    const first = await trigger(api, model, { reason: 'performance' });
    expect(first.fate).toBe('started');
    for (const reason of ['drift', 'manual']) {
      const res = await api('POST', `/v1/models/${model}/triggers`, { reason });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ fate: 'suppressed', runId: null });
      expect(res.body.reason).toMatch(/^daily budget of 1 runs used; the next may start after /);
    }
    const state = await modelState(model);
    expect(state).toMatchObject({ pending: null, runsLast24h: 1, dailyRunBudget: 1 });
    const rows = await rowsOf(model);
    expect(rows.map((r) => r.fate)).toEqual(['started', 'suppressed', 'suppressed']);
    expect(rows[2]?.fateReason).toMatch(/daily budget/);
  });

  it('holds a drift alert during the canary; after an operator rollback the follow-up waits out the rollback cooldown', async () => {
    const model = 'held';
    const rollbackCooldownSeconds = 6;
    const policy = fastPolicy({ bake: { seconds: 120 }, triggers: { rollbackCooldownSeconds } });
    await bootstrapChampion(api, model, data, policy, bob);
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, inStage('approve'));
    expect((await decide(bob, model, runId, 'approve')).status).toBe(200);

    let done = false;
    const traffic = sendTraffic(api, model, await readFile(drifted, 'utf8'), () => done);
    // The run tells the model workflow its stage.
    await waitForModel(model, (s) => s.currentStage === 'canary' || s.currentStage === 'bake');
    const duringRollout = await send(model, { reason: 'drift' }, monitor);
    expect(duringRollout.fate).toBe('held');
    expect(duringRollout.reason).toMatch(new RegExp(`^run ${runId} is in (canary|bake)`));
    const followUp = duringRollout.runId!;

    await waitForRun(api, model, runId, inStage('bake'));
    done = true;
    await traffic;
    expect((await olga('POST', `/v1/models/${model}/rollback`, { reason: 'drill' })).status).toBe(202);
    expect((await waitForRun(api, model, runId, hasEnded)).outcome).toBe('rolled_back');

    // The rollback cooldown: drift is held for the same follow-up, a scheduled retrain is suppressed.
    const state = await waitForModel(model, (s) => s.current === null);
    expect(state.pending?.runId).toBe(followUp);
    expect(state.cooldown?.after).toBe(`run ${runId} rolled_back`);
    const cooldownUntil = Date.parse(state.cooldown!.until);
    const heldDrift = await send(model, { reason: 'drift' }, monitor);
    expect(heldDrift).toMatchObject({ fate: 'held', runId: followUp });
    expect(heldDrift.reason).toBe(`cooldown until ${state.cooldown!.until} after run ${runId} rolled_back`);
    const schedule = await api('POST', `/v1/models/${model}/triggers`, { reason: 'schedule' });
    expect(schedule.status).toBe(200);
    expect(schedule.body).toMatchObject({ fate: 'suppressed', runId: null });
    expect(schedule.body.reason).toMatch(/^cooldown until /);

    // The follow-up starts once the cooldown is over (its record appears when it begins).
    const next = await waitForRun(api, model, followUp, () => true, { timeoutMs: 60_000 });
    const startedAt = Date.parse((next as unknown as { startedAt: string }).startedAt);
    expect(startedAt).toBeGreaterThanOrEqual(cooldownUntil - 250);
    expect(next.causes.map((c) => c.triggerId)).toEqual([duringRollout.triggerId, heldDrift.triggerId]);
    const settled = await waitForRun(api, model, followUp, (r) => hasEnded(r) || r.stage === 'approve');
    if (!hasEnded(settled)) await decide(bob, model, followUp, 'reject', 'drill over');
    await waitForRun(api, model, followUp, hasEnded);
    // The follow-up waited on the cooldown's timer (replayed on a late clock in replay.test.ts).
    if (recordingHistories)
      await recordHistory(stack, 'model-follow-up-after-cooldown', modelWorkflowId(model));
  });

  it('records triggers for a frozen model but starts nothing, the follow-up included, until it is unfrozen', async () => {
    const model = 'frozen';
    await registerModel(api, model, data, fastPolicy());
    const first = await trigger(api, model, { reason: 'manual' });
    await waitForRun(api, model, first.runId, inStage('approve'));
    const queued = await trigger(monitor, model, { reason: 'drift' });
    expect(queued.fate).toBe('queued');

    const bad = await olga('POST', `/v1/models/${model}/freeze`, {});
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBeTypeOf('string');
    expect((await olga('POST', '/v1/models/no-such-model/freeze', { reason: 'y' })).status).toBe(404);
    // Freezing is an operator's call: the drift monitor may not.
    expect((await monitor('POST', `/v1/models/${model}/freeze`, { reason: 'y' })).status).toBe(403);

    const reason = 'incident 4711: upstream labels are wrong';
    const frozen = expectStatus(await olga('POST', `/v1/models/${model}/freeze`, { reason }), 200);
    expect(frozen).toMatchObject({ frozen: true, reason, by: 'olga', currentRunId: first.runId });
    expect((await api('GET', `/v1/models/${model}`)).body.freeze).toMatchObject({
      frozen: true,
      reason,
      by: 'olga',
    });

    for (const body of [{ reason: 'drift' }, { reason: 'manual' }]) {
      const res = await api('POST', `/v1/models/${model}/triggers`, body);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ fate: 'suppressed', runId: null, reason: `frozen: ${reason}` });
    }
    // The run in progress is told, so that it does not promote while the model is frozen.
    const runHistory = await stack.client.workflow
      .getHandle(runWorkflowId(model, first.runId))
      .fetchHistory();
    const signals = (runHistory.events ?? []).map(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? null,
    );
    expect(signals).toContain('modelFreeze');

    await decide(bob, model, first.runId, 'reject');
    await waitForRun(api, model, first.runId, hasEnded);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await modelState(model)).toMatchObject({
      current: null,
      pending: { runId: queued.runId },
      freeze: { frozen: true, reason },
    });
    expect((await api('GET', `/v1/models/${model}/runs/${queued.runId}`)).status).toBe(404);

    const unfrozen = expectStatus(
      await olga('POST', `/v1/models/${model}/unfreeze`, { reason: 'labels fixed' }),
      200,
    );
    expect(unfrozen).toMatchObject({ frozen: false, by: 'olga' });
    const followUp = await waitForRun(api, model, queued.runId, inStage('approve'));
    // The suppressed triggers are not part of it.
    expect(followUp.causes.map((c) => c.triggerId)).toEqual([queued.triggerId]);
    await decide(bob, model, queued.runId, 'reject');
    await waitForRun(api, model, queued.runId, hasEnded);
    // The run's record ends a moment before the model's workflow sees its child complete.
    await waitForModel(model, (s) => s.current === null);
    const after = await trigger(api, model, { reason: 'drift' });
    expect(after.fate).toBe('started');

    const rows = await rowsOf(model);
    expect(rows.map((r) => r.fate)).toEqual(['started', 'queued', 'suppressed', 'suppressed', 'started']);
    const audit = await stack.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.model, model), sql`${auditEvents.kind} like 'model_%frozen'`))
      .orderBy(asc(auditEvents.id));
    expect(audit.map((a) => [a.kind, a.actor, a.reason])).toEqual([
      ['model_frozen', 'olga', reason],
      ['model_unfrozen', 'olga', 'labels fixed'],
    ]);
  });

  it('keeps a frozen model frozen when a flood of triggers makes its workflow continue as new', async () => {
    const model = 'flood';
    await registerModel(api, model, data, fastPolicy());
    const handle = await startWithTinyHistoryAllowance(model);
    const executionBefore = (await handle.describe()).runId;
    const reason = 'maintenance window';
    expectStatus(await olga('POST', `/v1/models/${model}/freeze`, { reason }), 200);

    // One after another, so that each is its own update (concurrent ones would share batches) and the
    // history outgrows the allowance.
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await send(model, { reason: 'drift', dedupKey: `alert-${i}` }));
    expect(new Set(answers.map((a) => a.fate))).toEqual(new Set(['suppressed']));
    const latest = stack.client.workflow.getHandle(modelWorkflowId(model));
    await waitForModel(model, () => true);
    expect((await latest.describe()).runId).not.toBe(executionBefore);
    expect(await modelState(model)).toMatchObject({
      current: null,
      pending: null,
      freeze: { frozen: true, reason },
    });
    expect((await send(model, { reason: 'manual' })).fate).toBe('suppressed');

    expectStatus(await olga('POST', `/v1/models/${model}/unfreeze`, {}), 200);
    // Suppressed alerts claimed no dedup key, so a re-sent one counts now.
    const resent = await send(model, { reason: 'drift', dedupKey: 'alert-7' });
    expect(resent.fate).toBe('started');
  });

  it('continues as new once it has taken its allowance of updates, keeping the freeze', async () => {
    const model = 'update-allowance';
    await registerModel(api, model, data, fastPolicy());
    const handle = await startModelWorkflow(stack, model, { maxUpdatesPerExecution: 5 });
    const executionBefore = (await handle.describe()).runId;
    expectStatus(await olga('POST', `/v1/models/${model}/freeze`, { reason: 'drill' }), 200);
    // The freeze and three triggers: four updates, still the first execution.
    for (let i = 0; i < 3; i++) await send(model, { reason: 'drift', dedupKey: `allowance-${i}` });
    expect((await handle.describe()).runId).toBe(executionBefore);
    // The fifth update uses up the allowance: the next trigger is answered by a new execution.
    for (let i = 3; i < 6; i++)
      expect((await send(model, { reason: 'drift', dedupKey: `allowance-${i}` })).fate).toBe('suppressed');
    const latest = stack.client.workflow.getHandle(modelWorkflowId(model));
    expect((await latest.describe()).runId).not.toBe(executionBefore);
    expect(await modelState(model)).toMatchObject({
      freeze: { frozen: true, reason: 'drill' },
      current: null,
    });
  });

  it('carries dedup keys without their triggers and only the answers whose fates are not yet stored', async () => {
    const model = 'lean-carry';
    await registerModel(api, model, data, fastPolicy());
    const handle = await startModelWorkflow(stack, model, { maxUpdatesPerExecution: 4 });
    const executionBefore = (await handle.describe()).runId;
    // One at a time, so each is its own update; each update tells the workflow that the fate of
    // the one before it is stored. The fourth uses up the allowance.
    const first = await send(model, { reason: 'drift', dedupKey: 'alert-carried' });
    const others: TriggerAnswer[] = [];
    for (let i = 0; i < 3; i++) others.push(await send(model, { reason: 'drift', dedupKey: `other-${i}` }));
    expect(first.fate).toBe('started');
    const latest = stack.client.workflow.getHandle(modelWorkflowId(model));
    await expect.poll(async () => (await latest.describe()).runId).not.toBe(executionBefore);

    // What the new execution was handed: the keys with their runs, and of the answers only the
    // last one (its fate is stored, but no later update has said so).
    const history = await latest.fetchHistory();
    const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const { governance } = JSON.parse(Buffer.from(payload.data!).toString()).carried;
    expect(governance.dedup.keys).toEqual(['alert-carried', 'other-0', 'other-1', 'other-2']);
    expect(governance.dedup.runIds).toEqual([first.runId, others[0]!.runId]);
    expect(JSON.stringify(governance)).not.toContain(first.triggerId);
    expect(governance.answered.triggerIds).toEqual([others[2]!.triggerId]);

    // The same alert again: deduplicated, and the API still names the trigger that brought the key.
    const again = await send(model, { reason: 'drift', dedupKey: 'alert-carried' });
    expect(again).toMatchObject({ fate: 'deduplicated', runId: first.runId, duplicateOf: first.triggerId });
    const [row] = await stack.database.db.select().from(triggers).where(eq(triggers.id, again.triggerId));
    expect(row).toMatchObject({
      fate: 'deduplicated',
      fateReason: `duplicate of trigger ${first.triggerId}`,
    });

    // A batch sent by hand, past the API, with a malformed list of recorded ids: refused whole.
    const byHand = latest.executeUpdate(triggerBatchUpdate, {
      args: [
        [
          {
            cause: {
              triggerId: randomUUID(),
              reason: 'drift',
              requestedBy: 'someone in the Temporal UI',
              details: {},
              receivedAt: new Date().toISOString(),
            },
            context: { dedupKey: null, policy: parseTriggerPolicy(fastPolicy()) },
          },
        ],
        [42] as unknown as string[],
      ],
    });
    await expect(byHand).rejects.toMatchObject({
      cause: { message: 'recorded must be a list of trigger ids' },
    });

    // The carried answer is given again to a trigger delivered twice (a reconciler's re-send).
    const registered = (await findModel(stack.database.db, model))!;
    const [stored] = await stack.database.db
      .select()
      .from(triggers)
      .where(eq(triggers.id, others[2]!.triggerId));
    const deps = { db: stack.database.db, temporal: stack.client, taskQueues: stack.taskQueues };
    const redelivered = await deliverStored(
      deps,
      registered,
      [
        {
          id: stored!.id,
          receivedAt: stored!.receivedAt,
          request: { reason: 'drift', details: {}, dedupKey: 'other-2', requestedBy: 'reconciler' },
        },
      ],
      { onFailure: 'leave' },
    );
    expect(redelivered).toEqual([{ fate: others[2]!.fate, runId: others[2]!.runId }]);
  });

  it('continues as new during a long run under a storm; the run goes on and its end starts the follow-up', async () => {
    const model = 'storm-during-run';
    await registerModel(api, model, data, fastPolicy());
    const handle = await startWithTinyHistoryAllowance(model);
    const executionBefore = (await handle.describe()).runId;
    const first = await send(model, { reason: 'manual' });
    expect(first.fate).toBe('started');
    await waitForRun(api, model, first.runId!, inStage('approve'));

    // One after another, so that each is its own update and the history outgrows the allowance.
    const answers = [];
    for (let i = 0; i < 30; i++)
      answers.push(await send(model, { reason: 'drift', dedupKey: `long-${i}` }, monitor));
    expect(answers.map((a) => a.fate)).toEqual(['queued', ...Array(29).fill('joined')]);
    const followUp = answers[0]!.runId!;
    expect(new Set(answers.map((a) => a.runId))).toEqual(new Set([followUp]));

    // A new execution carries the run (still waiting for its approver) and the follow-up.
    const carried = await waitForModel(model, (s) => s.current?.runId === first.runId && s.pending !== null);
    const executionAfter = (await handle.describe()).runId;
    expect(executionAfter).not.toBe(executionBefore);
    expect(carried).toMatchObject({ currentStage: 'approve', pending: { runId: followUp } });
    expect(carried.pending!.causes).toHaveLength(30);
    // A re-sent alert is still known after the boundary.
    expect(await send(model, { reason: 'drift', dedupKey: 'long-7' }, monitor)).toMatchObject({
      fate: 'deduplicated',
      runId: followUp,
    });

    // The run was not cancelled by the boundary: a person still decides it, and its end starts the follow-up.
    expect((await decide(bob, model, first.runId!, 'reject', 'not now')).status).toBe(200);
    expect((await waitForRun(api, model, first.runId!, hasEnded)).outcome).toBe('rejected_approval');
    const next = await waitForRun(api, model, followUp, inStage('approve'));
    expect(next.causes).toHaveLength(30);
    await decide(bob, model, followUp, 'reject', 'drill over');
    await waitForRun(api, model, followUp, hasEnded);
    const state = await waitForModel(model, (s) => s.current === null);
    expect(state.completedRuns).toBeGreaterThanOrEqual(1);
    if (recordingHistories) {
      // The execution that continued as new during a run, and the one that waited for that run.
      await recordHistory(stack, 'model-continued-during-run', modelWorkflowId(model), executionBefore);
      await recordHistory(stack, 'model-carried-run', modelWorkflowId(model), executionAfter);
    }
  });

  it('bounds the causes a follow-up carries under a storm of large alerts; every alert still names its run', async () => {
    const model = 'storm-large';
    await registerModel(api, model, data, fastPolicy());
    const handle = await startWithTinyHistoryAllowance(model);
    const executionBefore = (await handle.describe()).runId;
    const first = await send(model, { reason: 'manual' });
    await waitForRun(api, model, first.runId!, inStage('approve'));

    // 300 alerts at once, 15 kB of details each (the API takes up to 16 KiB): 4.5 MB of causes
    // if all were carried, past Temporal's 2 MB payload limit for the run's input and the carry.
    const note = 'x'.repeat(15_000);
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        send(model, { reason: 'drift', details: { alert: i, note } }, monitor),
      ),
    );
    expect(answers.map((a) => a.fate).sort()).toEqual(['queued', ...Array(299).fill('joined')].sort());
    const followUp = answers.find((a) => a.fate === 'queued')!.runId!;
    expect(new Set(answers.map((a) => a.runId))).toEqual(new Set([followUp]));

    // Small alerts one by one until the model's workflow has continued as new, carrying the follow-up.
    let joined = 300;
    let last: TriggerAnswer;
    do {
      last = await send(model, { reason: 'drift' }, monitor);
      expect(last.fate).toBe('joined');
      joined += 1;
    } while ((await handle.describe()).runId === executionBefore && joined < 400);
    expect((await handle.describe()).runId).not.toBe(executionBefore);
    const carried = await waitForModel(model, (s) => s.pending?.runId === followUp);
    const pending = carried.pending!;
    expect(pending.causes.length).toBeLessThanOrEqual(200);
    expect(pending.causes.length + pending.omittedCauses!).toBe(joined);
    expect(Buffer.byteLength(JSON.stringify(pending.causes))).toBeLessThanOrEqual(128 * 1024);
    // The first cause and the newest stay.
    expect(pending.causes[0]!.details.alert).toBeDefined();
    expect(pending.causes.at(-1)!.triggerId).toBe(last.triggerId);

    // The follow-up starts with the bounded causes and says how many it left out.
    expect((await decide(bob, model, first.runId!, 'reject', 'storm drill')).status).toBe(200);
    const next = await waitForRun(api, model, followUp, inStage('approve'));
    expect(next.causes).toHaveLength(pending.causes.length);
    const runState = await stack.client.workflow
      .getHandle(runWorkflowId(model, followUp))
      .query(runStateQuery);
    expect(runState.omittedCauses).toBe(pending.omittedCauses);
    // Every alert, carried or not, is stored with the run it joined.
    const rows = await rowsOf(model);
    expect(rows).toHaveLength(joined + 1);
    expect(rows.filter((r) => r.runId === followUp)).toHaveLength(joined);
    await decide(bob, model, followUp, 'reject', 'drill over');
    await waitForRun(api, model, followUp, hasEnded);
  });
});
