import type { WorkflowHandle } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../../api/client';
import { auditEvents } from '../../db/schema';
import {
  decide,
  expectStatus,
  fastPolicy,
  hasEnded,
  inStage,
  registerModel,
  trigger,
  waitForModelToLetGo,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import {
  approveSignal,
  ctModelKey,
  modelWorkflowId,
  type RunWorkflowInput,
  runStateQuery,
  runWorkflowId,
} from '../../workflows/messages';
import { recordHistory, recordingHistories } from '../helpers/histories';
import { type Stack, startStack } from '../helpers/stack';

/** Tiny, so that a few dozen signals push a wait past it. */
const THRESHOLD = 150;
/** A safe point comes after the event that crossed the threshold; so may a canary and a promotion. */
const MARGIN = 150;
/**
 * Each refused signal adds at least two events (the signal, and its audit's
 * local-activity marker), so this many cross the threshold whatever the
 * history held before the flood.
 */
const FLOOD = Math.ceil(THRESHOLD / 2) + 5;

/**
 * A run continues as new at its long waits' safe points (approval round,
 * bake) once its history passes `maxHistoryEvents`, and goes on with the
 * same wait: its votes, clock, promotion saga and audit intact, nothing redone.
 */
describe('a run continues as new during its long waits', () => {
  let stack: Stack;
  let api: Api;
  let alice: Api;
  let operator: Api;
  let baseline: string;
  let drifted: string;

  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    alice = stack.api('alice');
    operator = stack.api('olga');
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 61 });
    drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 62, shift: 1.5 });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  const policy = fastPolicy({
    // No traffic reaches the model: the step ends inconclusive at its limit and goes on.
    canary: { steps: [10, 100], stepMaxSeconds: 3, pollSeconds: 1, onInconclusive: 'proceed' },
    bake: { seconds: 25, pollSeconds: 1 },
  });

  /** A model whose runs get the tiny allowance, with its first champion promoted. */
  async function modelWithChampion(model: string): Promise<void> {
    await registerModel(api, model, baseline, policy);
    await stack.client.workflow.start('modelWorkflow', {
      workflowId: modelWorkflowId(model),
      taskQueue: stack.taskQueues.control,
      args: [{ model, trainTaskQueue: stack.taskQueues.train, runMaxHistoryEvents: THRESHOLD }],
    });
    const { runId } = await trigger(api, model, { reason: 'manual' });
    await waitForRun(api, model, runId, (r) => inStage('approve')(r) && r.live?.approval?.level != null);
    expectStatus(await decide(alice, model, runId, 'approve', 'first model'), 200);
    expect((await waitForRun(api, model, runId, hasEnded)).outcome).toBe('promoted');
    await waitForModelToLetGo(api, model, runId);
  }

  /** The run's executions, oldest first, with their history lengths. */
  async function executions(model: string, runId: string) {
    const workflowId = runWorkflowId(model, runId);
    const found: { runId: string; historyLength: number; status: string }[] = [];
    for await (const e of stack.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
      const history = await stack.client.workflow.getHandle(workflowId, e.runId).fetchHistory();
      found.push({ runId: e.runId, historyLength: history.events?.length ?? 0, status: e.status.name });
    }
    return found.reverse();
  }

  async function waitForExecutions(model: string, runId: string, atLeast: number) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const found = await executions(model, runId);
      if (found.length >= atLeast) return found;
      if (Date.now() > deadline) throw new Error(`only ${found.length} executions of ${runId}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Malformed approvals (no `by`), one after another: each is refused and audited by the run. */
  async function flood(model: string, runId: string) {
    const handle = stack.client.workflow.getHandle(runWorkflowId(model, runId));
    for (let i = 0; i < FLOOD; i++) await handle.signal(approveSignal, { reason: `flood ${i}` } as never);
  }

  const auditOf = (runId: string, kind: string) =>
    stack.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.runId, runId), eq(auditEvents.kind, kind)));

  it('continues as new in the approval round and in the bake, and ends promoted once', {
    timeout: 300_000,
  }, async () => {
    const model = 'can-promote';
    await modelWithChampion(model);
    const { runId } = await trigger(api, model, { reason: 'manual', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, (r) => inStage('approve')(r) && r.live?.approval?.level != null);
    const before = await waitForExecutions(model, runId, 1);

    await flood(model, runId);
    const inApproval = await waitForExecutions(model, runId, before.length + 1);
    // The round, its deadline and its question went along; the decision reaches the latest execution.
    const waiting = await waitForRun(api, model, runId, inStage('approve'));
    expect(waiting.live.approval.deadline).toBe(
      (await api('GET', `/v1/models/${model}/runs/${runId}`)).body.live.approval.deadline,
    );
    expectStatus(await decide(alice, model, runId, 'approve', 'after the flood'), 200);

    await waitForRun(api, model, runId, inStage('bake'));
    const beforeBake = await executions(model, runId);
    await flood(model, runId);
    const inBake = await waitForExecutions(model, runId, beforeBake.length + 1);
    const baking = await waitForRun(api, model, runId, inStage('bake'));
    expect(baking.live.bakeEndsAt).not.toBeNull();
    const latest = stack.client.workflow.getHandle(runWorkflowId(model, runId));
    expect((await latest.describe()).typedSearchAttributes.get(ctModelKey)).toBe(model);

    const run = await waitForRun(api, model, runId, hasEnded, { timeoutMs: 120_000 });
    expect(run.outcome).toBe('promoted');
    expect(run.outcomeReason).toMatch(/bake window of 25 s passed/);
    expect((await api('GET', `/v1/models/${model}`)).body.champion).toBe(run.candidateVersion);
    // The model's workflow awaited the run by its id and got the end of its chain.
    await waitForModelToLetGo(api, model, runId);
    const state = (await api('GET', `/v1/models/${model}/runs`)).body.workflow;
    expect(state.lastOutcome).toMatchObject({ runId, outcome: 'promoted' });

    // Nothing redone, nothing lost: one of each, and every refused signal its own audit row.
    expect(await auditOf(runId, 'approval')).toHaveLength(1);
    expect(await auditOf(runId, 'promotion')).toHaveLength(1);
    expect(await auditOf(runId, 'promotion_started')).toHaveLength(1);
    expect(await auditOf(runId, 'signal_refused')).toHaveLength(2 * FLOOD);
    expect(run.reports.validation).toBeTruthy();

    const all = await executions(model, runId);
    expect(all.length).toBeGreaterThanOrEqual(Math.max(inApproval.length, inBake.length));
    console.log(`executions of the run: ${all.map((e) => e.historyLength).join(', ')} events`);
    for (const e of all) expect(e.historyLength).toBeLessThan(THRESHOLD + MARGIN);
    expect(all.at(-1)!.status).toBe('COMPLETED');
    expect(all.slice(0, -1).every((e) => e.status === 'CONTINUED_AS_NEW')).toBe(true);
    if (recordingHistories) {
      await recordHistory(
        stack,
        'run-continued-as-new-in-approval',
        runWorkflowId(model, runId),
        all[0]!.runId,
      );
      await recordHistory(
        stack,
        'run-continued-as-new-in-bake',
        runWorkflowId(model, runId),
        all.at(-1)!.runId,
      );
    }
  });

  it('rolls back after continuing as new in the bake: the previous champion is restored', {
    timeout: 300_000,
  }, async () => {
    const model = 'can-rollback';
    await modelWithChampion(model);
    const champion = (await api('GET', `/v1/models/${model}`)).body.champion as number;
    const { runId } = await trigger(api, model, { reason: 'manual', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, (r) => inStage('approve')(r) && r.live?.approval?.level != null);
    expectStatus(await decide(alice, model, runId, 'approve', 'go'), 200);
    await waitForRun(api, model, runId, inStage('bake'));
    const beforeBake = await executions(model, runId);
    await flood(model, runId);
    await waitForExecutions(model, runId, beforeBake.length + 1);
    await waitForRun(api, model, runId, inStage('bake'));
    expect((await api('GET', `/v1/models/${model}`)).body.champion).not.toBe(champion);

    expectStatus(
      await operator('POST', `/v1/models/${model}/rollback`, { reason: 'after the flood' }),
      200,
      202,
    );
    const run = await waitForRun(api, model, runId, hasEnded);
    expect(run.outcome).toBe('rolled_back');
    expect((await api('GET', `/v1/models/${model}`)).body.champion).toBe(champion);
    expect(await auditOf(runId, 'promotion_undone')).toHaveLength(1);
    for (const e of await executions(model, runId)) expect(e.historyLength).toBeLessThan(THRESHOLD + MARGIN);
  });

  it('reads a carried policy at the resume: clamps numbers beyond their bounds, and fails a carry it cannot read with the reason', {
    timeout: 300_000,
  }, async () => {
    const model = 'can-resume-crafted';
    await modelWithChampion(model);
    const { runId } = await trigger(api, model, { reason: 'manual', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, (r) => inStage('approve')(r) && r.live?.approval?.level != null);
    await flood(model, runId);
    const [, second] = await waitForExecutions(model, runId, 2);
    // The input the second execution was given: a real carry, as anyone with Temporal access can read it.
    const history = await stack.client.workflow
      .getHandle(runWorkflowId(model, runId), second!.runId)
      .fetchHistory();
    const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const carried = JSON.parse(Buffer.from(payload.data!).toString('utf8')) as RunWorkflowInput;
    const policy = carried.resume!.policy as Record<string, Record<string, unknown>>;

    // A run started by hand with that carry: one with a bound broken, one with a field it cannot read.
    const startByHand = (name: string, poisoned: Record<string, unknown>) =>
      stack.client.workflow.start('runWorkflow', {
        workflowId: runWorkflowId(model, name),
        taskQueue: stack.taskQueues.control,
        args: [
          { ...carried, runId: name, resume: { ...carried.resume!, policy: { ...policy, ...poisoned } } },
        ],
      });
    const clamped = await startByHand(`${runId}-clamped`, {
      approval: { ...policy.approval, timeoutSeconds: 1e300 },
    });
    const unreadable = await startByHand(`${runId}-unreadable`, {
      bake: { ...policy.bake, seconds: 'long' },
    });

    const ended = await unreadable.result();
    expect(ended.outcome).toBe('failed');
    expect(ended.reason).toMatch(/the carried policy is invalid: bake\.seconds/);
    // The clamped one read its carry and waits in its approval round, as the run it was copied from.
    const deadline = Date.now() + 30_000;
    while (!(await readCarry(clamped))) {
      if (Date.now() > deadline) throw new Error('the clamped carry was not read');
      await new Promise((r) => setTimeout(r, 250));
    }
    expect((await clamped.query(runStateQuery)).stage).toBe('approve');
    expect((await clamped.describe()).status.name).toBe('RUNNING');
    await clamped.cancel();

    for (const handle of [clamped, unreadable]) {
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
    }
    expectStatus(await decide(alice, model, runId, 'reject', 'done'), 200);
  });

  /** Whether the run's readCarriedPolicy activity has completed. */
  async function readCarry(handle: WorkflowHandle) {
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'readCarriedPolicy',
    );
    return events.some(
      (e) =>
        scheduled &&
        Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === Number(scheduled.eventId),
    );
  }
});
