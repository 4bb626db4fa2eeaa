import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../scripts/lib/scenario';
import { candidateAwaitingApproval, DAY, readmePolicy } from '../helpers/real-durations';
import {
  EVENT_BUDGET,
  resultWithinBudget,
  startTimeSkippingStack,
  type TimeSkippingStack,
} from '../helpers/time-skipping';

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
    const { result, largest, over } = await resultWithinBudget(ts, model, workflowId);
    expect(over).toBeNull();
    expect(result).toMatchObject({ outcome: 'rejected_approval' });
    expect((await ts.now()) - opened).toBeGreaterThanOrEqual(30 * DAY);
    for (const events of Object.values(largest)) expect(events).toBeLessThanOrEqual(EVENT_BUDGET);
  });
});
