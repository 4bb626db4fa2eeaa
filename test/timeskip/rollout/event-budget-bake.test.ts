import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../../scripts/lib/scenario';
import { approveByReviewers, candidateAwaitingApproval, readmePolicy } from '../../helpers/real-durations';
import {
  EVENT_BUDGET,
  resultWithinBudget,
  startTimeSkippingStack,
  type TimeSkippingStack,
} from '../../helpers/time-skipping';

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

  it('keeps a 7-day bake looking for regressions every 5 s within the budget', async () => {
    const model = 'week-bake';
    const { runId, workflowId } = await candidateAwaitingApproval(
      ts,
      model,
      data,
      readmePolicy({ canary: { onInconclusive: 'proceed' }, bake: { seconds: 7 * 86_400, pollSeconds: 5 } }),
    );
    await approveByReviewers(ts, model, runId);
    const { result, largest, over } = await resultWithinBudget(ts, model, workflowId);
    expect(over).toBeNull();
    expect(result).toMatchObject({ outcome: 'promoted', reason: `bake window of ${7 * 86_400} s passed` });
    for (const events of Object.values(largest)) expect(events).toBeLessThanOrEqual(EVENT_BUDGET);
  }, 600_000);
});
