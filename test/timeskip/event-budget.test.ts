import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../scripts/lib/scenario';
import { modelWorkflowId } from '../../workflows/messages';
import { candidateAwaitingApproval, DAY, readmePolicy } from '../helpers/real-durations';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/time-skipping';

/** ARCHITECTURE.md: no ctloop workflow execution grows past its event budget, whatever the policy. */
const EVENT_BUDGET = 10_000;

type Result = { outcome: string; reason: string };

/**
 * The longest waits a policy allows, at the README policy's looks (every 5 s):
 * a week's bake and a month's approval. Each execution of the run's workflow
 * and of the model's stays within the event budget (long waits continue as
 * new); the budget is watched while the clock runs, so a history that
 * outgrows it fails the test at once instead of after 120,000 looks.
 */
describe('event budget of the longest waits (time skipping)', () => {
  let ts: TimeSkippingStack;
  let data: { baseline: string; drifted: string };
  beforeAll(async () => {
    ts = await startTimeSkippingStack();
    data = {
      baseline: await writeDataset(ts.dataDir, 'baseline', { rows: 1500, seed: 61 }),
      drifted: await writeDataset(ts.dataDir, 'drifted', { rows: 1500, seed: 62, shift: 1.5 }),
    };
  });
  afterAll(async () => {
    await ts?.close();
  });

  /**
   * Awaits the run's result while reading the history length of the current
   * execution of each workflow; past the budget, the run is terminated and the
   * test fails with the counts.
   */
  async function resultWithinBudget(model: string, workflowId: string) {
    const largest: Record<string, number> = { [workflowId]: 0, [modelWorkflowId(model)]: 0 };
    let over: string | null = null;
    let done = false;
    const watching = (async () => {
      while (!done && over === null) {
        for (const id of Object.keys(largest)) {
          const events = await ts.historyLength(id);
          largest[id] = Math.max(largest[id]!, events);
          if (events > EVENT_BUDGET && over === null) {
            over = `${id} reached ${events} events`;
            await ts.client.workflow
              .getHandle(workflowId)
              .terminate(`over the event budget: ${over}`)
              .catch(() => {});
          }
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      const result = await ts.result<Result>(workflowId).catch((err: Error) => ({ error: err.message }));
      return { result, largest, over };
    } finally {
      done = true;
      await watching;
      for (const id of Object.keys(largest)) largest[id] = Math.max(largest[id]!, await ts.historyLength(id));
      console.info(`largest executions: ${JSON.stringify(largest)}`);
    }
  }

  it('keeps a 30-day approval wait within the budget', async () => {
    const model = 'month-approval';
    const { workflowId } = await candidateAwaitingApproval(
      ts,
      model,
      data,
      readmePolicy({
        approval: { timeoutSeconds: 30 * 86_400, reminderBeforeSeconds: 86_400, onExpiry: 'reject' },
      }),
    );
    const opened = await ts.now();
    const { result, largest, over } = await resultWithinBudget(model, workflowId);
    expect(over).toBeNull();
    expect(result).toMatchObject({ outcome: 'rejected_approval' });
    expect((await ts.now()) - opened).toBeGreaterThanOrEqual(30 * DAY);
    for (const events of Object.values(largest)) expect(events).toBeLessThanOrEqual(EVENT_BUDGET);
  });
});
