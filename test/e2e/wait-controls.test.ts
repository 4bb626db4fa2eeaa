import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../../api/client';
import {
  bootstrapChampion,
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  type RunView,
  trigger,
  waitForModelToLetGo,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

/**
 * Every wait of a run answers every control at once: applied within seconds
 * (the run's state, outcome or audit shows it), or refused with the reason.
 * Runs are brought to each wait on the real stack; controls that leave the
 * run where it is share one run per wait, controls that end it get a run of
 * their own (on a model of their own when the run promotes, since a promoted
 * candidate leaves nothing better to train for the next run).
 */
const WAITS = ['approval', 'frozen hold', 'question', 'canary step', 'promotion', 'bake'] as const;
type Wait = (typeof WAITS)[number];
const CONTROLS = [
  'approve',
  'reject',
  'pause',
  'resume',
  'abort',
  'promote-now',
  'rollback',
  'freeze',
  'unfreeze',
  'cancel',
] as const;
type Control = (typeof CONTROLS)[number];

/** What a control does at a wait: refused (with a reason matching `why`), applied, or it ends the run. */
type Expected =
  | { readonly refused: RegExp }
  | { readonly applied: (run: RunView) => boolean; readonly audit?: string }
  | { readonly ends: 'promoted' | 'rolled_back' | 'cancelled' | 'rejected_approval'; readonly audit?: string }
  | { readonly moves: (run: RunView) => boolean };

const frozen = (run: RunView) => run.live?.frozen === true;
const thawed = (run: RunView) => run.live?.frozen === false;
const noRollout = /no rollout to control/;
const notDeciding = /not waiting for a decision/;

const TABLE: Record<Wait, Record<Control, Expected>> = {
  approval: {
    approve: { moves: (r) => r.stage === 'canary' },
    reject: { ends: 'rejected_approval', audit: 'rejection' },
    pause: { refused: noRollout },
    resume: { refused: noRollout },
    abort: { refused: noRollout },
    'promote-now': { refused: noRollout },
    rollback: { refused: /nothing to roll back/ },
    freeze: { applied: frozen },
    unfreeze: { applied: thawed },
    cancel: { ends: 'cancelled' },
  },
  'frozen hold': {
    approve: { refused: notDeciding },
    reject: { refused: notDeciding },
    pause: { refused: /frozen/ },
    resume: { refused: /frozen/ },
    abort: { ends: 'rolled_back', audit: 'canary_abort' },
    'promote-now': { refused: /frozen/ },
    rollback: { ends: 'rolled_back' },
    freeze: { applied: (r) => frozen(r) && r.live.held === 'the canary' },
    unfreeze: { moves: (r) => r.live?.held === null && r.live?.canary?.weight === 10 },
    cancel: { ends: 'cancelled' },
  },
  question: {
    approve: { ends: 'promoted', audit: 'canary_proceed' },
    reject: { ends: 'rolled_back', audit: 'canary_rejected' },
    pause: { refused: /asked about the inconclusive step/ },
    resume: { refused: /asked about the inconclusive step/ },
    abort: { ends: 'rolled_back', audit: 'canary_abort' },
    'promote-now': { ends: 'promoted', audit: 'canary_promote_now' },
    rollback: { ends: 'rolled_back' },
    freeze: { applied: frozen },
    unfreeze: { applied: thawed },
    cancel: { ends: 'cancelled' },
  },
  'canary step': {
    approve: { refused: notDeciding },
    reject: { refused: notDeciding },
    pause: { applied: (r) => r.live?.canary?.paused === true, audit: 'canary_pause' },
    resume: { applied: (r) => r.live?.canary?.paused === false, audit: 'canary_resume' },
    abort: { ends: 'rolled_back', audit: 'canary_abort' },
    'promote-now': { ends: 'promoted', audit: 'canary_promote_now' },
    rollback: { ends: 'rolled_back' },
    freeze: { applied: frozen },
    unfreeze: { applied: thawed },
    cancel: { ends: 'cancelled' },
  },
  promotion: {
    approve: { refused: notDeciding },
    reject: { refused: notDeciding },
    pause: { refused: /being promoted/ },
    resume: { refused: /being promoted/ },
    abort: { ends: 'rolled_back', audit: 'canary_abort' },
    'promote-now': { refused: /already ending|being promoted/ },
    rollback: { ends: 'rolled_back' },
    freeze: { applied: (r) => frozen(r) && r.live.held === 'the promotion' },
    unfreeze: { moves: (r) => r.stage === 'bake' || r.outcome === 'promoted' },
    cancel: { ends: 'cancelled' },
  },
  bake: {
    approve: { refused: notDeciding },
    reject: { refused: notDeciding },
    pause: { refused: /baking/ },
    resume: { refused: /baking/ },
    abort: { ends: 'rolled_back', audit: 'promotion_undone' },
    'promote-now': { refused: /baking/ },
    rollback: { ends: 'rolled_back', audit: 'promotion_undone' },
    freeze: { applied: frozen },
    unfreeze: { applied: thawed },
    cancel: { ends: 'cancelled', audit: 'promotion_undone' },
  },
};

const isEnding = (e: Expected) => 'ends' in e || 'moves' in e;
const promotes = (e: Expected) => 'ends' in e && e.ends === 'promoted';

/** Rows in the order they run: per wait, the controls that leave the run in place first. */
const ROWS = WAITS.flatMap((wait) => {
  const controls = [...CONTROLS].sort(
    (a, b) => Number(isEnding(TABLE[wait][a])) - Number(isEnding(TABLE[wait][b])),
  );
  return controls.map((control) => [wait, control] as const);
});

describe('every wait answers every control at once', () => {
  let stack: Stack;
  let api: Api;
  let operator: Api;
  let alice: Api;
  let baseline: string;
  let drifted: string;
  const shared = new Map<Wait, { model: string; runId: string }>();
  let models = 0;

  /** Per wait, the model its runs use (one at a time), with a champion in production. */
  const familyModels = new Map<Wait, Promise<string>>();

  const policyFor = (wait: Wait) =>
    fastPolicy({
      canary:
        wait === 'question'
          ? {
              steps: [10, 100],
              stepMaxSeconds: 1,
              pollSeconds: 1,
              onInconclusive: 'ask',
              ask: { timeoutSeconds: 600 },
            }
          : { steps: [10, 100], stepMaxSeconds: 600 },
      // Long where the bake is the wait (or follows it); short where a row ends in `promoted`.
      bake: { seconds: wait === 'bake' || wait === 'promotion' ? 600 : 2, pollSeconds: 1 },
    });

  async function newModel(wait: Wait): Promise<string> {
    models += 1;
    const model = `wait-${wait.replace(' ', '-')}-${models}`;
    await bootstrapChampion(api, model, baseline, policyFor(wait), alice);
    return model;
  }

  async function modelFor(wait: Wait, own: boolean): Promise<string> {
    if (own) return newModel(wait);
    let model = familyModels.get(wait);
    if (!model) {
      model = newModel(wait);
      familyModels.set(wait, model);
    }
    return model;
  }

  const operate = (model: string, runId: string, action: string) =>
    operator('POST', `/v1/models/${model}/runs/${runId}/${action}`, { reason: `table: ${action}` });

  /** A new run of `model`, brought to `wait`. */
  async function bringTo(wait: Wait, model: string): Promise<string> {
    const { runId } = await trigger(api, model, { reason: 'manual', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, (r) => inStage('approve')(r) && r.live?.approval?.level != null);
    if (wait === 'approval') return runId;
    if (wait === 'frozen hold') await operator('POST', `/v1/models/${model}/freeze`, { reason: 'table' });
    expect((await decide(alice, model, runId, 'approve')).status).toBe(200);
    if (wait === 'frozen hold') {
      await waitForRun(api, model, runId, (r) => r.live?.held === 'the canary');
      return runId;
    }
    if (wait === 'question') {
      await waitForRun(
        api,
        model,
        runId,
        (r) =>
          r.live?.approval?.purpose === 'canary' &&
          r.live?.approval?.decision === null &&
          r.live?.approval?.level != null,
      );
      return runId;
    }
    await waitForRun(api, model, runId, (r) => r.live?.canary?.weight === 10);
    if (wait === 'canary step') return runId;
    if (wait === 'promotion') await operator('POST', `/v1/models/${model}/freeze`, { reason: 'table' });
    expect((await operate(model, runId, 'promote-now')).status).toBe(200);
    if (wait === 'promotion') {
      await waitForRun(api, model, runId, (r) => r.live?.held === 'the promotion');
      return runId;
    }
    await waitForRun(api, model, runId, inStage('bake'));
    return runId;
  }

  /** Ends the run if it still runs, lifts any freeze, and waits until the model takes new runs. */
  async function release(model: string, runId: string): Promise<void> {
    const run = (await api('GET', `/v1/models/${model}/runs/${runId}`)).body as RunView;
    if (run.outcome === null) {
      await operate(model, runId, 'cancel');
      await waitForRun(api, model, runId, hasEnded);
    }
    await operator('POST', `/v1/models/${model}/unfreeze`, { reason: 'next row' });
    await waitForModelToLetGo(api, model, runId);
  }

  async function send(control: Control, model: string, runId: string) {
    switch (control) {
      case 'approve':
      case 'reject':
        return decide(alice, model, runId, control, `table: ${control}`);
      case 'rollback':
        return operator('POST', `/v1/models/${model}/rollback`, { reason: 'table: rollback' });
      case 'freeze':
      case 'unfreeze':
        return operator('POST', `/v1/models/${model}/${control}`, { reason: `table: ${control}` });
      default:
        return operate(model, runId, control);
    }
  }

  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    operator = stack.api('olga');
    alice = stack.api('alice');
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 61 });
    drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 62, shift: 1.5 });
  }, 120_000);
  afterAll(async () => {
    for (const { model, runId } of shared.values()) {
      await operate(model, runId, 'cancel').catch(() => undefined);
    }
    await stack?.close();
  });

  it.each(ROWS)('%s × %s', { timeout: 180_000 }, async (wait, control) => {
    const expected = TABLE[wait][control];
    const own = isEnding(expected);
    let model: string;
    let runId: string;
    if (own) {
      const earlier = shared.get(wait);
      if (earlier) {
        // The wait's shared run is done with: its model is free for runs of their own.
        shared.delete(wait);
        await release(earlier.model, earlier.runId);
      }
      model = await modelFor(wait, promotes(expected));
      runId = await bringTo(wait, model);
    } else {
      if (!shared.has(wait)) {
        const m = await modelFor(wait, false);
        shared.set(wait, { model: m, runId: await bringTo(wait, m) });
      }
      ({ model, runId } = shared.get(wait)!);
    }
    try {
      const asked = Date.now();
      const res = await send(control, model, runId);
      if ('refused' in expected) {
        expect(res.status, JSON.stringify(res.body)).toBe(409);
        expect(res.body.error.message).toMatch(expected.refused);
        // Nothing changed: the run is still at its wait.
        const after = await waitForRun(api, model, runId, () => true);
        expect(after.outcome).toBeNull();
      } else if ('applied' in expected) {
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const after = await waitForRun(api, model, runId, expected.applied, { timeoutMs: 10_000 });
        if (expected.audit) expect(after.audit.map((e) => e.kind)).toContain(expected.audit);
      } else if ('moves' in expected) {
        expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
        await waitForRun(api, model, runId, expected.moves, { timeoutMs: 30_000 });
      } else {
        expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
        const ended = await waitForRun(api, model, runId, hasEnded, { timeoutMs: 30_000 });
        expect(ended.outcome).toBe(expected.ends);
        if (expected.audit) expect(ended.audit.map((e) => e.kind)).toContain(expected.audit);
        // Routing is the champion's again unless the candidate was promoted.
        const routed = (await api('GET', `/v1/models/${model}`)).body as { champion: number };
        if (expected.ends === 'promoted') expect(routed.champion).toBe(ended.candidateVersion);
        else expect(routed.champion).not.toBe(ended.candidateVersion);
      }
      // Within seconds, not at a deadline or the end of a step (the waits here last 10 minutes).
      expect(Date.now() - asked).toBeLessThan(20_000);
    } finally {
      // Leave the model free (and unfrozen) for the next row, whatever this one found.
      if (own) await release(model, runId);
    }
  });
});
