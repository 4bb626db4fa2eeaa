import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { monitorBaselines, routes } from '../../db/schema';
import {
  bootstrapChampion,
  fastPolicy,
  hasEnded,
  inStage,
  type RunView,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Fault, FaultInjector } from '../helpers/fault-injector';
import { type Stack, startStack } from '../helpers/stack';

type Step = 'alias' | 'routing' | 'monitors';
type Input = Record<string, unknown>;

/** Each saga step and its undo, as activity calls: which activity, and how to tell the step from its undo. */
const STEP_CALLS: Record<Step, { activity: keyof Activities; step: (i: Input) => boolean }> = {
  alias: { activity: 'moveChampionAlias', step: (i) => i.kind === 'promotion' },
  routing: { activity: 'routeAllTraffic', step: (i) => i.version === 2 },
  monitors: { activity: 'setMonitorBaseline', step: () => true },
};
const UNDO_CALLS: Record<Step, { activity: keyof Activities; undo: (i: Input) => boolean }> = {
  alias: { activity: 'moveChampionAlias', undo: (i) => i.kind === 'rollback' },
  routing: { activity: 'routeAllTraffic', undo: (i) => i.version === 1 },
  monitors: { activity: 'restoreMonitorBaseline', undo: () => true },
};

/**
 * A champion v1 and a retrain whose candidate v2 passes evaluation; no
 * approval and a canary of one 100 % step, so a run goes straight to the
 * promotion saga, then a long bake an operator can roll back. Undos are
 * retried 3 times in all, quickly.
 */
const sagaPolicy = fastPolicy({
  approval: { required: false },
  canary: { steps: [100] },
  bake: { seconds: 600, regressionCheck: false },
  promotion: { undoRetries: { attempts: 3, backoffSeconds: 0.2, maxBackoffSeconds: 0.5 } },
});

describe('the promotion saga under failing activities', () => {
  let stack: Stack;
  const faults = new FaultInjector();
  let baseline: string;
  let drifted: string;
  beforeAll(async () => {
    stack = await startStack({ wrapActivities: faults.wrap });
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 31 });
    drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 32, shift: 1.5 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const forModel = (model: string, match: (i: Input) => boolean) => (i: Input) =>
    i.model === model && match(i);

  /** A model with champion v1; returns the run that made it champion. */
  async function withChampion(model: string): Promise<RunView> {
    return bootstrapChampion(stack.api(), model, baseline, sagaPolicy);
  }

  /** Starts the retrain; activity calls are counted from here (the champion's own run made some). */
  let since = 0;
  async function retrain(model: string): Promise<string> {
    since = faults.mark();
    const { runId } = await trigger(stack.api(), model, { reason: 'drift', details: { dataUri: drifted } });
    return runId;
  }

  /** What production looks like: the champion alias, the serving route, the monitors' baseline. */
  async function registry(model: string) {
    const { db } = stack.database;
    const [route] = await db.select().from(routes).where(eq(routes.model, model));
    const [monitors] = await db.select().from(monitorBaselines).where(eq(monitorBaselines.model, model));
    return {
      champion: (await stack.api()('GET', `/v1/models/${model}`)).body.champion as number | null,
      route: { champion: route?.championVersion ?? null, candidate: route?.candidateVersion ?? null },
      monitors: monitors ? { version: monitors.version, runId: monitors.runId } : null,
    };
  }

  async function rollBackDuringBake(model: string, runId: string): Promise<RunView> {
    await waitForRun(stack.api(), model, runId, inStage('bake'));
    const res = await stack.api('olga')('POST', `/v1/models/${model}/rollback`, { reason: 'pager went off' });
    expect(res.status).toBe(202);
    return waitForRun(stack.api(), model, runId, hasEnded, { timeoutMs: 60_000 });
  }

  const stepStates = (run: RunView) =>
    Object.fromEntries(
      (run.reports.saga.steps as { step: Step; state: string }[]).map((s) => [s.step, s.state]),
    );

  it.each<[Step, Fault['mode']]>([
    ['alias', 'fail'],
    ['routing', 'fail-after-write'],
    ['monitors', 'fail-after-write'],
  ])(
    'a promotion whose %s step fails for good (%s) is undone completely and the run fails',
    async (step, mode) => {
      const model = `saga-step-${step}`;
      const first = await withChampion(model);
      const { activity, step: isStep } = STEP_CALLS[step];
      faults.add({ activity, when: forModel(model, isStep), mode, times: Infinity, nonRetryable: true });

      const run = await waitForRun(stack.api(), model, await retrain(model), hasEnded);

      expect(run.outcome).toBe('failed');
      expect(run.outcomeReason).toMatch(new RegExp(`promotion failed at ${step}: injected ${mode}`));
      expect(run.outcomeReason).toMatch(/undone: monitors, routing, alias$/);
      // Even a step that wrote before it failed is back: production is as it was before the run.
      expect(await registry(model)).toEqual({
        champion: 1,
        route: { champion: 1, candidate: null },
        monitors: { version: 1, runId: first.id },
      });
      expect(stepStates(run)).toEqual({ alias: 'undone', routing: 'undone', monitors: 'undone' });
      expect(run.audit.map((e) => e.kind)).not.toContain('compensation_failed');
    },
  );

  it.each<Step>(['alias', 'routing', 'monitors'])(
    'the %s step, retried after its write committed, promotes once, and its undo restores the previous state',
    async (step) => {
      const model = `saga-retry-${step}`;
      const first = await withChampion(model);
      const { activity, step: isStep } = STEP_CALLS[step];
      faults.add({ activity, when: forModel(model, isStep), mode: 'fail-after-write', times: 1 });

      const runId = await retrain(model);
      await waitForRun(stack.api(), model, runId, inStage('bake'));
      expect(faults.callsOf(activity, forModel(model, isStep), since).map((c) => c.failed)).toEqual([
        true,
        false,
      ]);
      expect(await registry(model)).toEqual({
        champion: 2,
        route: { champion: 2, candidate: null },
        monitors: { version: 2, runId },
      });

      const run = await rollBackDuringBake(model, runId);
      expect(run.outcome).toBe('rolled_back');
      // The previous champion's baseline is put back, not deleted (a retried step once returned "nothing").
      expect(await registry(model)).toEqual({
        champion: 1,
        route: { champion: 1, candidate: null },
        monitors: { version: 1, runId: first.id },
      });
      expect(run.audit).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'promotion_started', actor: 'ctloop' }),
          expect.objectContaining({ kind: 'promotion_undone', actor: 'olga' }),
        ]),
      );
    },
  );

  it.each<[Step, Fault['mode']]>([
    ['alias', 'fail'],
    ['routing', 'fail-after-write'],
    ['monitors', 'fail'],
  ])('an undo of %s that fails twice (%s) is retried and the rollback completes', async (step, mode) => {
    const model = `saga-undo-retry-${step}`;
    const first = await withChampion(model);
    const { activity, undo } = UNDO_CALLS[step];
    faults.add({ activity, when: forModel(model, undo), mode, times: 2 });

    const run = await rollBackDuringBake(model, await retrain(model));

    expect(run.outcome).toBe('rolled_back');
    expect(run.outcomeReason).toMatch(/pager went off/);
    expect(faults.callsOf(activity, forModel(model, undo), since).map((c) => c.failed)).toEqual([
      true,
      true,
      false,
    ]);
    expect(await registry(model)).toEqual({
      champion: 1,
      route: { champion: 1, candidate: null },
      monitors: { version: 1, runId: first.id },
    });
    expect(stepStates(run)).toEqual({ alias: 'undone', routing: 'undone', monitors: 'undone' });
  });

  // What each half-undone state looks like: the alias follows the traffic, so it stays on v2 while
  // routing does; the other undos still run.
  it.each<[Step, { champion: number; route: number; monitors: number }, Record<Step, string>]>([
    [
      'alias',
      { champion: 2, route: 1, monitors: 1 },
      { alias: 'undo_failed', routing: 'undone', monitors: 'undone' },
    ],
    [
      'routing',
      { champion: 2, route: 2, monitors: 1 },
      { alias: 'undo_skipped', routing: 'undo_failed', monitors: 'undone' },
    ],
    [
      'monitors',
      { champion: 1, route: 1, monitors: 2 },
      { alias: 'undone', routing: 'undone', monitors: 'undo_failed' },
    ],
  ])(
    'an undo of %s that never succeeds leaves the run failed, saying what is half-undone, and alerts',
    async (step, left, states) => {
      const model = `saga-undo-fails-${step}`;
      const first = await withChampion(model);
      const { activity, undo } = UNDO_CALLS[step];
      faults.add({ activity, when: forModel(model, undo), mode: 'fail', times: Infinity });

      const runId = await retrain(model);
      const run = await rollBackDuringBake(model, runId);

      expect(run.outcome).toBe('failed');
      expect(run.outcomeReason).toMatch(/^rollback during bake: pager went off; rollback incomplete: /);
      expect(run.outcomeReason).toContain(`${step} NOT undone (injected fail of ${activity} (3))`);
      // Every undo was tried as often as the policy says, then given up.
      expect(faults.callsOf(activity, forModel(model, undo), since)).toHaveLength(3);
      expect(stepStates(run)).toEqual(states);
      const state = await registry(model);
      expect(state).toEqual({
        champion: left.champion,
        route: { champion: left.route, candidate: null },
        monitors: left.monitors === 1 ? { version: 1, runId: first.id } : { version: 2, runId },
      });
      const failed = run.audit.filter((e) => e.kind === 'compensation_failed');
      expect(failed).toEqual([expect.objectContaining({ actor: 'ctloop' })]);
      expect(failed[0]!.reason).toContain(`${step} NOT undone`);
      expect(run.audit.map((e) => e.kind)).not.toContain('promotion_undone');

      const metrics = await (await stack.app.request('/metrics')).text();
      expect(metrics).toContain(`ctloop_compensation_failures_total{model="${model}"} 1`);
    },
  );

  it('a first model whose promotion fails leaves the model with no champion, no route and no baseline', async () => {
    const model = 'saga-first-model';
    faults.add({
      activity: 'setMonitorBaseline',
      when: forModel(model, () => true),
      mode: 'fail-after-write',
      times: Infinity,
      nonRetryable: true,
    });
    await stack.api()('POST', '/v1/models', { name: model, dataUri: baseline, policy: sagaPolicy });
    const run = await waitForRun(stack.api(), model, await retrain(model), hasEnded);

    expect(run.outcome).toBe('failed');
    expect(run.outcomeReason).toMatch(/^promotion failed at monitors: .*; undone: monitors, routing, alias$/);
    expect(await registry(model)).toEqual({
      champion: null,
      route: { champion: null, candidate: null },
      monitors: null,
    });
  });

  it('a promotion that fails and whose undo fails too names both, and leaves the alias with the traffic', async () => {
    const model = 'saga-step-and-undo-fail';
    const first = await withChampion(model);
    faults.add({
      activity: 'setMonitorBaseline',
      when: forModel(model, () => true),
      mode: 'fail',
      times: Infinity,
      nonRetryable: true,
    });
    faults.add({
      activity: 'routeAllTraffic',
      when: forModel(model, UNDO_CALLS.routing.undo),
      mode: 'fail',
      times: Infinity,
    });
    const runId = await retrain(model);
    const run = await waitForRun(stack.api(), model, runId, hasEnded);

    expect(run.outcome).toBe('failed');
    expect(run.outcomeReason).toBe(
      'promotion failed at monitors: injected fail of setMonitorBaseline (1); rollback incomplete: ' +
        'monitors undone; routing NOT undone (injected fail of routeAllTraffic (3)); ' +
        'alias NOT undone (routing still sends all traffic to version 2, so the champion alias stays on it)',
    );
    expect(stepStates(run)).toEqual({ alias: 'undo_skipped', routing: 'undo_failed', monitors: 'undone' });
    expect(await registry(model)).toEqual({
      champion: 2,
      route: { champion: 2, candidate: null },
      monitors: { version: 1, runId: first.id },
    });
    expect(run.audit.filter((e) => e.kind === 'compensation_failed')).toHaveLength(1);
    // The lineage of the version left in production says so too.
    const lineage = (await stack.api()('GET', `/v1/models/${model}/versions/2/lineage`)).body;
    expect(lineage.rollout.events).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'compensation_failed', runId })]),
    );
  });

  it('refuses a policy whose undo retries make no sense, naming the field', async () => {
    const res = await stack.api()('POST', '/v1/models', {
      name: 'saga-bad-policy',
      dataUri: baseline,
      policy: fastPolicy({ promotion: { undoRetries: { attempts: 0 } } }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues).toEqual([
      expect.objectContaining({ path: 'policy.promotion.undoRetries.attempts' }),
    ]);
  });

  it('counts no compensation failure for a model whose rollbacks all completed', async () => {
    const metrics = await (await stack.app.request('/metrics')).text();
    expect(metrics).toContain('ctloop_compensation_failures_total{model="saga-undo-retry-alias"} 0');
  });
});
