import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bootstrapChampion, fastPolicy, writeDataset } from '../../scripts/lib/scenario';
import { runWorkflowId } from '../../workflows/messages';
import { FaultInjector } from '../helpers/fault-injector';
import { type Stack, startStack } from '../helpers/stack';

/**
 * A run's bookkeeping writes are local activities (workflows/activity-profiles.ts).
 * When one fails again and again (the registry away for a while), its retries
 * back off inside the worker, never on a backoff timer in the run's history.
 * In the chaos soak a write that failed into such a timer around the loss of
 * its worker left a history that could not be replayed from its start, and
 * every worker that took the run over failed each task of it with a
 * nondeterminism error. With the old threshold (10 s) this test fails: the
 * fifth backoff (16 s) went on a timer.
 */
describe('a bookkeeping write that fails into long backoffs', () => {
  let stack: Stack;
  const faults = new FaultInjector();
  beforeAll(async () => {
    stack = await startStack({ wrapActivities: faults.wrap });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is retried until it succeeds, and the run it belongs to replays from the start', {
    timeout: 120_000,
  }, async () => {
    const model = 'la-retries';
    const data = await writeDataset(stack.dataDir, 'data', { rows: 1500, seed: 71 });
    // Five failures: backoffs of 1, 2, 4, 8 and then 16 s, beyond the old 10 s threshold.
    faults.add({ activity: 'beginRun', when: (i) => i.model === model, mode: 'fail', times: 5 });
    const run = await bootstrapChampion(stack.api(), model, data, fastPolicy(), stack.api('alice'));
    expect(run.outcome).toBe('promoted');
    expect(faults.callsOf('beginRun', (i) => i.model === model).map((c) => c.failed)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
    ]);

    const history = await stack.client.workflow.getHandle(runWorkflowId(model, run.id)).fetchHistory();
    const types = (history.events ?? []).map((e) => String(e.eventType));
    // No timer in the run's history before its first stage's activity: the backoffs were local.
    const firstActivity = types.findIndex((t) => t === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED' || t === '10');
    expect(firstActivity).toBeGreaterThan(0);
    expect(
      types.slice(0, firstActivity).filter((t) => t === 'EVENT_TYPE_TIMER_STARTED' || t === '17'),
    ).toEqual([]);
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: { codePath: inject('workflowBundlePath') } },
        history,
        runWorkflowId(model, run.id),
      ),
    ).resolves.toBeUndefined();
  });
});
