import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { inProcessApi } from '../../api/client';
import { models } from '../../db/schema';
import { parsePolicy } from '../../domain/policy';
import { DAY } from '../../domain/policy-bounds';
import {
  bootstrapChampion,
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
import { modelWorkflowId, runWorkflowId, triggerUpdate } from '../../workflows/messages';
import { type Stack, startStack } from '../helpers/stack';

/**
 * Policies at the edges of their bounds go through real runs, and policies
 * beyond them (written straight into the database, or sent to the model's
 * workflow by hand) end their run with one clear outcome while the model
 * keeps answering: no workflow task of either workflow ever fails.
 */
describe('policy bounds: edge policies run, poisoned ones fail their run and nothing else', () => {
  let stack: Stack;
  let api: ReturnType<typeof inProcessApi>;
  let baseline: string;
  let drifted: string;
  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 31 });
    drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 32, shift: 1.5 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** WorkflowTaskFailed events in a workflow's history: each is a task the worker could not complete. */
  async function failedTasks(workflowId: string): Promise<string[]> {
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? [])
      .filter((e) => e.workflowTaskFailedEventAttributes)
      .map((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? 'workflow task failed');
  }

  async function modelState(model: string) {
    return expectStatus(await api('GET', `/v1/models/${model}/runs`), 200).workflow;
  }

  it('refuses values outside their range at registration and update, naming the field and the range', async () => {
    const model = 'bounds-api';
    const cases: [Record<string, unknown>, string][] = [
      [
        { triggers: { cooldownSeconds: 1e300 } },
        'policy.triggers.cooldownSeconds: must be from 0 to 2592000 seconds (30 days); got 1e+300',
      ],
      [
        { approval: { required: true, timeoutSeconds: 1e300 } },
        'policy.approval.timeoutSeconds: must be from 1 to 7776000 seconds (90 days); got 1e+300',
      ],
      [{ bake: { seconds: 31 * DAY } }, 'policy.bake.seconds: must be from 0 to 2592000 seconds (30 days)'],
      [
        { bake: { pollSeconds: 0.2 } },
        'policy.bake.pollSeconds: must be from 1 to 3600 seconds (1 hour); got 0.2',
      ],
    ];
    for (const [override, message] of cases) {
      const res = await api('POST', '/v1/models', {
        name: model,
        dataUri: baseline,
        policy: fastPolicy(override),
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.message).toContain(message);
      expect(res.body.error.details.issues).toEqual([
        { path: message.split(':')[0], message: expect.stringMatching(/^must be /) },
      ]);
    }
    expect((await api('GET', `/v1/models/${model}`)).status).toBe(404);

    await registerModel(api, model, baseline, fastPolicy());
    const update = await api('PUT', `/v1/models/${model}`, {
      policy: fastPolicy({ canary: { steps: [100], stepMaxSeconds: 10, pollSeconds: 30 } }),
    });
    expect(update.status).toBe(400);
    expect(update.body.error.message).toContain(
      'policy.canary.pollSeconds: pollSeconds must not exceed stepMaxSeconds',
    );
    const stored = (await api('GET', `/v1/models/${model}`)).body.policy;
    expect(stored.canary.pollSeconds).toBe(1);
  });

  it('runs a policy at the edges: 1 s polls, a one-step canary of 1 s, 90-day approval and 30-day bake timers, 30-day cooldowns', async () => {
    const model = 'bounds-edges';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    const edges = fastPolicy({
      approval: { required: true, timeoutSeconds: 90 * DAY, reminderBeforeSeconds: 90 * DAY - 1 },
      canary: {
        steps: [50, 100],
        pollSeconds: 1,
        stepMinSeconds: 0,
        stepMaxSeconds: 1,
        onInconclusive: 'proceed',
      },
      bake: { seconds: 30 * DAY, pollSeconds: 1, regressionCheck: false },
      triggers: {
        cooldownSeconds: 0,
        rollbackCooldownSeconds: 30 * DAY,
        dedupTtlSeconds: 30 * DAY,
        dailyRunBudget: 1440,
      },
    });
    expectStatus(await api('PUT', `/v1/models/${model}`, { policy: edges }), 200);

    const alert = { reason: 'drift', details: { dataUri: drifted }, dedupKey: 'alert-1' };
    const first = await trigger(api, model, alert);
    expect(first.fate).toBe('started');
    expect(await trigger(api, model, alert)).toMatchObject({ fate: 'deduplicated', runId: first.runId });

    const waiting = await waitForRun(api, model, first.runId, inStage('approve'));
    const deadline = Date.parse(waiting.live.approval.deadline!);
    expect(deadline - Date.now()).toBeGreaterThan(89 * DAY * 1000);
    expectStatus(await decide(stack.api('alice'), model, first.runId, 'approve'), 200);

    // One canary step, polled each second, inconclusive without traffic after 1 s, proceeds; then the 30-day bake.
    const baking = await waitForRun(api, model, first.runId, inStage('bake'));
    expect(Date.parse(baking.live.bakeEndsAt!) - Date.now()).toBeGreaterThan(29 * DAY * 1000);
    expect((await api('GET', `/v1/models/${model}`)).body.champion).toBe(2);
    const rollback = await stack.api('olga')('POST', `/v1/models/${model}/rollback`, { reason: 'edge test' });
    expect(rollback.status).toBe(202);
    const ended = await waitForRun(api, model, first.runId, hasEnded);
    expect(ended.outcome).toBe('rolled_back');
    expect(ended.reports.canary).toEqual([expect.objectContaining({ weight: 50, verdict: 'inconclusive' })]);
    await waitForModelToLetGo(api, model, first.runId);

    // The 30-day rollback cooldown is a date the model can show and a timer it can wait on.
    const state = await modelState(model);
    expect(Date.parse(state.cooldown.until) - Date.now()).toBeGreaterThan(29 * DAY * 1000);
    const held = await trigger(api, model, { reason: 'drift', dedupKey: 'alert-2' });
    expect(held).toMatchObject({ fate: 'held', reason: expect.stringMatching(/^cooldown until /) });

    expect(await failedTasks(modelWorkflowId(model))).toEqual([]);
    expect(await failedTasks(runWorkflowId(model, first.runId))).toEqual([]);
  });

  it('ends a run whose stored policy is beyond its bounds as failed at once, naming the fields, and the model keeps answering', async () => {
    const model = 'bounds-poisoned';
    const valid = fastPolicy({ approval: { required: false, timeoutSeconds: 60 } });
    await registerModel(api, model, baseline, valid);
    // Written past the API, as a hand-edited row or one from before the bounds would be.
    const poisoned = parsePolicy(valid) as unknown as Record<string, Record<string, unknown>>;
    poisoned.triggers!.cooldownSeconds = 1e300;
    poisoned.approval!.timeoutSeconds = 1e300;
    poisoned.drift!.pValue = 5;
    await stack.database.db.update(models).set({ policy: poisoned }).where(eq(models.name, model));

    const started = Date.now();
    const first = await trigger(api, model, { reason: 'manual' });
    expect(first.fate).toBe('started');
    const failed = await waitForRun(api, model, first.runId, hasEnded, { timeoutMs: 30_000 });
    const failedAfterMs = Date.now() - started;
    expect(failed.outcome).toBe('failed');
    expect(failed.outcomeReason).toContain(
      `the stored policy of model ${model} (fix it with PUT /v1/models/${model}) is invalid`,
    );
    expect(failed.outcomeReason).toContain(
      'triggers.cooldownSeconds: must be from 0 to 2592000 seconds (30 days); got 1e+300',
    );
    expect(failed.outcomeReason).toContain('approval.timeoutSeconds: must be from 1 to 7776000 seconds');
    // Not retried: a policy does not fix itself (ten attempts with backoff would take minutes).
    expect(failedAfterMs).toBeLessThan(20_000);
    await waitForModelToLetGo(api, model, first.runId);

    // The model governs with the cooldown clamped to its 30-day maximum, and says so.
    const state = await modelState(model);
    expect(Date.parse(state.cooldown.until) - Date.now()).toBeGreaterThan(29 * DAY * 1000);
    const held = await trigger(api, model, { reason: 'drift' });
    expect(held.fate).toBe('held');
    const olga = stack.api('olga');
    expectStatus(await olga('POST', `/v1/models/${model}/freeze`, { reason: 'looking at the policy' }), 200);
    expectStatus(await olga('POST', `/v1/models/${model}/unfreeze`, { reason: 'found it' }), 200);

    // The section a drift report needs is beyond its bounds: 409, naming the field.
    const report = await api('POST', `/v1/models/${model}/drift-reports`, {
      features: [{ name: 'x1', psi: 0.5 }],
    });
    expect(report.status).toBe(409);
    expect(report.body.error).toMatchObject({
      code: 'invalid_policy',
      message: expect.stringContaining('drift.pValue: must be greater than 0 and less than 1; got 5'),
    });

    // A trigger sent to the workflow by hand, past the API, with a poisoned policy of its own.
    const byHand = await stack.client.workflow
      .getHandle(modelWorkflowId(model))
      .executeUpdate(triggerUpdate, {
        args: [
          {
            triggerId: randomUUID(),
            reason: 'manual',
            requestedBy: 'someone in the Temporal UI',
            details: {},
            receivedAt: new Date().toISOString(),
          },
          {
            dedupKey: null,
            policy: {
              ...parsePolicy(valid).triggers,
              cooldownSeconds: 1e300,
              rollbackCooldownSeconds: -5,
              dedupTtlSeconds: Number.MAX_VALUE,
            },
          },
        ],
      });
    expect(byHand.fate).toBe('started');
    const second = await waitForRun(api, model, byHand.runId!, hasEnded, { timeoutMs: 30_000 });
    expect(second.outcome).toBe('failed');
    await waitForModelToLetGo(api, model, byHand.runId!);
    expect(Date.parse((await modelState(model)).cooldown.until) - Date.now()).toBeGreaterThan(
      29 * DAY * 1000,
    );

    // Fixed through the API, the next run goes through (and takes the held follow-up along).
    expectStatus(await api('PUT', `/v1/models/${model}`, { policy: valid }), 200);
    const third = await trigger(api, model, { reason: 'manual' });
    expect(third.fate).toBe('started');
    const promoted = await waitForRun(api, model, third.runId, hasEnded);
    expect(promoted.outcome).toBe('promoted');

    expect(await failedTasks(modelWorkflowId(model))).toEqual([]);
    for (const runId of [first.runId, byHand.runId!, third.runId]) {
      expect(await failedTasks(runWorkflowId(model, runId))).toEqual([]);
    }
  });
});
