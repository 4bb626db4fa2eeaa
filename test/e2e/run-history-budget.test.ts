import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../../api/client';
import {
  bootstrapChampion,
  fastPolicy,
  hasEnded,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { runWorkflowId } from '../../workflows/messages';
import { recordRunHistory } from '../helpers/histories';
import { type Stack, startStack } from '../helpers/stack';

/**
 * A canary step and a bake polled every second (the shortest poll a policy
 * may ask for): polling from the run's own code cost ~11 history events a
 * poll (a timer, an activity, workflow tasks), so this run would have written
 * ~500 events for its 45 polls. Watched by the heartbeating `watchRollout`
 * activity, in chunks of at least a dozen polls, it writes far fewer. The
 * days-long versions run on the time-skipping server (test/timeskip/).
 */
describe('run history stays within its budget however often the rollout polls', () => {
  let stack: Stack;
  let api: Api;
  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('polls a 15 s canary step and a 30 s bake every second in far fewer events than polling from the run', {
    timeout: 240_000,
  }, async () => {
    const model = 'budget';
    const baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 61 });
    const drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 62, shift: 1.5 });
    const policy = fastPolicy({
      approval: { required: false },
      // No traffic reaches the model: the step ends inconclusive at its limit and goes on.
      canary: { steps: [10, 100], stepMaxSeconds: 15, pollSeconds: 1, onInconclusive: 'proceed' },
      bake: { seconds: 30, pollSeconds: 1 },
    });
    await bootstrapChampion(api, model, baseline, policy);
    const { runId } = await trigger(api, model, { reason: 'manual', details: { dataUri: drifted } });
    const run = await waitForRun(api, model, runId, hasEnded, { timeoutMs: 180_000 });
    expect(run.outcome).toBe('promoted');
    expect(run.reports.canary).toEqual([expect.objectContaining({ weight: 10, verdict: 'inconclusive' })]);

    const handle = stack.client.workflow.getHandle(runWorkflowId(model, runId));
    await handle.result();
    const { historyLength } = await handle.describe();
    // 15 + 30 polls; at ~11 events a poll that would be ~500.
    console.log(
      `run history: ${historyLength} events for a 15 s canary step and a 30 s bake polled every second`,
    );
    expect(historyLength).toBeLessThan(250);
    await recordRunHistory(stack, 'run-long-canary-and-bake', runWorkflowId(model, runId));
  });
});
