/**
 * A canary's or bake's watch is an activity that sleeps for hours between
 * polls. On the control queue, each held one of its activity slots (100 by
 * default), so 100 canaries at once starved every model's quick activities:
 * a new run stayed before `beginRun` for good (found by bench/scale-models).
 * The watches now run on a queue of their own. Here the control queue has
 * two slots and three canaries watch at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../../api/client';
import {
  bootstrapChampion,
  fastPolicy,
  hasEnded,
  inStage,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

describe('watches hold no control slot', () => {
  let stack: Stack;
  let api: Api;
  let baseline: string;
  let drifted: string;
  beforeAll(async () => {
    stack = await startStack({ controlActivitySlots: 2 });
    api = stack.api();
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 71 });
    drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 72, shift: 1.5 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('with two control activity slots and three canaries watching, a new run still goes through its stages', async () => {
    // No traffic reaches the canaries: each watches its first step for up to 10 minutes.
    const policy = fastPolicy({
      approval: { required: false },
      canary: { steps: [10, 50, 100], stepMaxSeconds: 600, pollSeconds: 1 },
    });
    const canaries = ['watch-a', 'watch-b', 'watch-c'];
    const runs: string[] = [];
    for (const model of canaries) {
      await bootstrapChampion(api, model, baseline, policy);
      runs.push((await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } })).runId);
    }
    for (const [i, model] of canaries.entries()) await waitForRun(api, model, runs[i]!, inStage('canary'));

    // Three watches at once, more than the control queue's slots: a new model's run is validated,
    // trained, evaluated and promoted all the same.
    const fresh = await bootstrapChampion(
      api,
      'watch-fresh',
      baseline,
      fastPolicy({ approval: { required: false } }),
    );
    expect(fresh.outcome).toBe('promoted');
    for (const [i, model] of canaries.entries()) {
      const run = await waitForRun(api, model, runs[i]!, inStage('canary'));
      expect(run.outcome).toBeNull();
    }
    // An operator's abort reaches a watching canary (the watch is cancelled, the champion stays).
    const operator = stack.api('olga');
    for (const [i, model] of canaries.entries()) {
      expect(
        (await operator('POST', `/v1/models/${model}/runs/${runs[i]}/abort`, { reason: 'drill' })).status,
      ).toBe(200);
      expect((await waitForRun(api, model, runs[i]!, hasEnded)).outcome).toBe('rolled_back');
    }
  });
});
