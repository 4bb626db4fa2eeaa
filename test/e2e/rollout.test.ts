import { readFile } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../../api/client';
import { monitorBaselines } from '../../db/schema';
import {
  bootstrapChampion,
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  type RunView,
  sendTraffic,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { canaryControlSignal, runWorkflowId } from '../../workflows/messages';
import { recordRunHistory } from '../helpers/histories';
import { type Stack, startStack } from '../helpers/stack';

/**
 * The rollout after approval: canary steps judged by statistics, operators in
 * control, a human asked when the data cannot decide, and a bake that rolls a
 * regressing champion back.
 */
describe('rollout: canary analysis, operator control, asking a human, bake regression', () => {
  let stack: Stack;
  let api: Api;
  let operator: Api;
  let baseline: string;
  let drifted: string;
  let driftedCsv: string;
  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    operator = stack.api('olga');
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 61 });
    drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 62, shift: 1.5 });
    driftedCsv = await readFile(drifted, 'utf8');
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A champion in production and an approved candidate about to enter the canary. */
  async function approvedCandidate(model: string, policy = fastPolicy()) {
    await bootstrapChampion(api, model, baseline, policy, stack.api('alice'));
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });
    const waiting = await waitForRun(api, model, runId, inStage('approve'));
    return { runId, candidate: waiting.live.candidateVersion as number };
  }

  const routeOf = async (model: string) =>
    (await api('GET', `/v1/models/${model}`)).body as { champion: number };

  it('rolls back a candidate that errors on 20 % of requests within its first step', async () => {
    const model = 'rollout-bad';
    const { runId, candidate } = await approvedCandidate(model);
    expect(
      (await operator('PUT', `/v1/models/${model}/versions/${candidate}/fault`, { errorRate: 0.2 })).status,
    ).toBe(200);
    expect((await decide(stack.api('alice'), model, runId, 'approve')).status).toBe(200);
    let done = false;
    const traffic = sendTraffic(api, model, driftedCsv, () => done);
    const run = await waitForRun(api, model, runId, hasEnded, { timeoutMs: 120_000 });
    done = true;
    await traffic;
    expect(run.outcome).toBe('rolled_back');
    // Caught in the first step (10 %): no step was passed before it.
    expect(run.reports.canary.map((s: { weight: number; verdict: string }) => [s.weight, s.verdict])).toEqual(
      [[10, 'fail']],
    );
    expect(run.outcomeReason).toMatch(/error rate/);
    expect((await routeOf(model)).champion).toBe(1);
    for (let i = 0; i < 10; i++) {
      const res = await api('POST', `/v1/models/${model}/predict`, {
        features: { x1: i, x2: 0, x3: 1, x4: -1 },
        key: `after-${i}`,
      });
      expect(res.body.version).toBe(1);
    }
  });

  it('keeps a request key on one version within a step (sticky routing)', async () => {
    const model = 'rollout-sticky';
    const { runId } = await approvedCandidate(
      model,
      fastPolicy({ canary: { steps: [50, 100], stepMaxSeconds: 600 } }),
    );
    await decide(stack.api('alice'), model, runId, 'approve');
    await waitForRun(api, model, runId, (r) => r.live?.canary?.weight === 50);
    const versions = new Map<string, Set<number>>();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 20; k++) {
        const res = await api('POST', `/v1/models/${model}/predict`, {
          features: { x1: round, x2: k, x3: 0, x4: 0 },
          key: `user-${k}`,
        });
        expect(res.status).toBe(200);
        const seen = versions.get(`user-${k}`) ?? new Set<number>();
        seen.add(res.body.version);
        versions.set(`user-${k}`, seen);
      }
    }
    expect([...versions.values()].every((s) => s.size === 1)).toBe(true);
    // Both versions serve someone at 50 %.
    expect(new Set([...versions.values()].flatMap((s) => [...s])).size).toBe(2);
    expect(
      (await operator('POST', `/v1/models/${model}/runs/${runId}/abort`, { reason: 'test done' })).status,
    ).toBe(200);
    expect((await waitForRun(api, model, runId, hasEnded)).outcome).toBe('rolled_back');
  });

  it('pauses, resumes and aborts on an operator’s word, audited, and refuses it from a non-operator', async () => {
    const model = 'rollout-control';
    const { runId } = await approvedCandidate(
      model,
      fastPolicy({ canary: { steps: [10, 50, 100], stepMaxSeconds: 600 } }),
    );
    await decide(stack.api('alice'), model, runId, 'approve');
    await waitForRun(api, model, runId, inStage('canary'));

    expect((await stack.api('alice')('POST', `/v1/models/${model}/runs/${runId}/pause`, {})).status).toBe(
      403,
    );
    const paused = await operator('POST', `/v1/models/${model}/runs/${runId}/pause`, { reason: 'incident' });
    expect(paused.status).toBe(200);
    expect(paused.body.control).toMatchObject({ action: 'pause', by: 'olga', accepted: true });
    const again = await operator('POST', `/v1/models/${model}/runs/${runId}/pause`, {});
    expect(again.status).toBe(409);
    // Healthy traffic while paused: the rollout holds its step instead of passing it.
    let done = false;
    const traffic = sendTraffic(api, model, driftedCsv, () => done);
    await new Promise((r) => setTimeout(r, 4_000));
    const held = await waitForRun(api, model, runId, () => true);
    expect(held.live.canary).toMatchObject({ weight: 10, paused: true });
    // The same control from the Temporal UI, as a signal: resume.
    await stack.client.workflow
      .getHandle(runWorkflowId(model, runId))
      .signal(canaryControlSignal, { action: 'resume', by: 'olga', reason: 'incident over' });
    await waitForRun(api, model, runId, (r: RunView) => r.live?.canary?.paused === false);
    const aborted = await operator('POST', `/v1/models/${model}/runs/${runId}/abort`, {
      reason: 'changed my mind',
    });
    expect(aborted.status).toBe(200);
    const run = await waitForRun(api, model, runId, hasEnded);
    done = true;
    await traffic;
    expect(run.outcome).toBe('rolled_back');
    expect(run.outcomeReason).toMatch(/aborted: changed my mind/);
    expect((await routeOf(model)).champion).toBe(1);
    const kinds = run.audit.map((e: { kind: string; actor: string }) => [e.kind, e.actor]);
    expect(kinds).toEqual(
      expect.arrayContaining([
        ['canary_pause', 'olga'],
        ['canary_control_refused', 'olga'],
        ['canary_resume', 'olga'],
        ['canary_abort', 'olga'],
      ]),
    );
  });

  it('promotes now on an operator’s word, skipping the remaining steps', async () => {
    const model = 'rollout-promote-now';
    const { runId, candidate } = await approvedCandidate(
      model,
      fastPolicy({ canary: { steps: [10, 50, 100], stepMaxSeconds: 600 }, bake: { seconds: 2 } }),
    );
    await decide(stack.api('alice'), model, runId, 'approve');
    await waitForRun(api, model, runId, inStage('canary'));
    const res = await operator('POST', `/v1/models/${model}/runs/${runId}/promote-now`, { reason: 'hotfix' });
    expect(res.status).toBe(200);
    const run = await waitForRun(api, model, runId, hasEnded);
    expect(run.outcome).toBe('promoted');
    expect((await routeOf(model)).champion).toBe(candidate);
    expect(run.reports.canary.at(-1)).toMatchObject({ verdict: 'promoted_by_operator' });
    const promotion = run.audit.find((e: { kind: string }) => e.kind === 'promotion');
    expect(promotion).toMatchObject({ actor: 'olga', reason: expect.stringMatching(/promoted now by olga/) });
    // No canary look measured the champion, so the bake is one timer (replayed on a late clock in replay.test.ts).
    await recordRunHistory(stack, 'run-promoted-now', runWorkflowId(model, runId));
  });

  it('holds the canary while the model is frozen, and goes on once an operator lifts the freeze', async () => {
    const model = 'rollout-freeze';
    const { runId, candidate } = await approvedCandidate(
      model,
      fastPolicy({ canary: { steps: [10, 100], stepMaxSeconds: 600 }, bake: { seconds: 1 } }),
    );
    expect((await operator('POST', `/v1/models/${model}/freeze`, { reason: 'quarter close' })).status).toBe(
      200,
    );
    expect((await decide(stack.api('alice'), model, runId, 'approve')).status).toBe(200);
    await expect
      .poll(async () =>
        (await waitForRun(api, model, runId, () => true)).audit.map((e: { kind: string }) => e.kind),
      )
      .toContain('held_frozen');
    await new Promise((r) => setTimeout(r, 1_500));
    const held = await waitForRun(api, model, runId, () => true);
    expect(held.outcome).toBeNull();
    // In the canary stage, held before its first step: no traffic moved, a pause is refused with why.
    expect(held.live.held).toBe('the canary');
    expect(held.live.canary.weight).toBe(0);
    expect((await routeOf(model)).champion).toBe(1);
    const pause = await operator('POST', `/v1/models/${model}/runs/${runId}/pause`, {});
    expect(pause.status).toBe(409);
    expect(pause.body.error.message).toMatch(/frozen/);

    expect((await operator('POST', `/v1/models/${model}/unfreeze`, { reason: 'books closed' })).status).toBe(
      200,
    );
    await waitForRun(api, model, runId, (r) => r.live?.held === null && r.live?.canary?.weight === 10);
    expect((await operator('POST', `/v1/models/${model}/runs/${runId}/promote-now`, {})).status).toBe(200);
    const run = await waitForRun(api, model, runId, hasEnded);
    expect(run.outcome).toBe('promoted');
    expect((await routeOf(model)).champion).toBe(candidate);
    expect(run.audit.map((e: { kind: string }) => e.kind)).toEqual(
      expect.arrayContaining(['held_frozen', 'released_unfrozen', 'promotion']),
    );
  });

  it('pauses an inconclusive step and asks a human, who lets it go on through the API', async () => {
    const model = 'rollout-ask';
    const { runId, candidate } = await approvedCandidate(
      model,
      fastPolicy({
        canary: {
          steps: [10, 100],
          stepMaxSeconds: 2,
          pollSeconds: 1,
          onInconclusive: 'ask',
          ask: { timeoutSeconds: 60 },
        },
        bake: { seconds: 1 },
      }),
    );
    await decide(stack.api('alice'), model, runId, 'approve');
    // No traffic at all: the step cannot decide by its maximum time.
    const asking = await waitForRun(api, model, runId, (r) => r.live?.approval?.purpose === 'canary', {
      timeoutMs: 30_000,
    });
    expect(asking.stage).toBe('canary');
    expect(asking.live.canary.paused).toBe(true);
    expect(asking.live.approval.question).toMatch(/inconclusive/);
    const inbox = (await stack.api('bob')('GET', '/v1/approvals')).body.approvals;
    expect(inbox.find((a: { runId: string }) => a.runId === runId)).toMatchObject({
      purpose: 'canary',
      question: expect.stringMatching(/inconclusive/),
      youMayDecide: true,
    });
    expect((await decide(stack.api('bob'), model, runId, 'approve', 'low-traffic model, go on')).status).toBe(
      200,
    );
    const run = await waitForRun(api, model, runId, hasEnded);
    expect(run.outcome).toBe('promoted');
    expect((await routeOf(model)).champion).toBe(candidate);
    expect(run.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'canary_proceed', actor: 'bob' })]),
    );
  });

  it('rolls back during the bake when the new champion regresses against the previous one’s baseline', async () => {
    const model = 'rollout-bake';
    const { runId, candidate } = await approvedCandidate(
      model,
      fastPolicy({
        canary: { steps: [50, 100], stepMaxSeconds: 120 },
        bake: { seconds: 120, pollSeconds: 1 },
      }),
    );
    await decide(stack.api('alice'), model, runId, 'approve');
    let done = false;
    const traffic = sendTraffic(api, model, driftedCsv, () => done);
    await waitForRun(api, model, runId, inStage('bake'), { timeoutMs: 120_000 });
    const monitor = await stack.database.db
      .select()
      .from(monitorBaselines)
      .where(eq(monitorBaselines.model, model));
    expect(monitor).toEqual([expect.objectContaining({ version: candidate, runId })]);
    // Now the new champion starts failing a third of its requests.
    await operator('PUT', `/v1/models/${model}/versions/${candidate}/fault`, { errorRate: 0.35 });
    const run = await waitForRun(api, model, runId, hasEnded, { timeoutMs: 120_000 });
    done = true;
    await traffic;
    expect(run.outcome).toBe('rolled_back');
    expect(run.outcomeReason).toMatch(/regression during bake/);
    expect((await routeOf(model)).champion).toBe(1);
    // The saga undid every step: alias, routing, and the monitors' baseline.
    const undone = run.audit.find((e: { kind: string }) => e.kind === 'promotion_undone') as unknown as {
      details: { undone: string[] };
    };
    expect(undone.details.undone).toEqual(['monitors', 'routing', 'alias']);
    const after = await stack.database.db
      .select()
      .from(monitorBaselines)
      .where(eq(monitorBaselines.model, model));
    expect(after.map((m) => m.version)).not.toContain(candidate);
  });
});
