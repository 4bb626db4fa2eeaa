import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../scripts/lib/scenario';
import { approveByReviewers, candidateAwaitingApproval, readmePolicy } from '../helpers/real-durations';
import {
  EVENT_BUDGET,
  resultWithinBudget,
  startTimeSkippingStack,
  type TimeSkippingStack,
} from '../helpers/time-skipping';

/**
 * The longest bake a policy allows: 30 days. The run's history grows with
 * the number of watches, not of looks: a watch takes at least 12 looks and
 * a bake at most 100 watches (chunkPolls in domain/watch-plan.ts,
 * tested across the allowed range in test/domain/watch-plan.test.ts). Looking
 * every 30 minutes, this bake makes 1,440 looks in 96 watches, nearly as many
 * watches as a bake that looks every second (100), so it shows the largest history
 * while its looks stay few enough to make in seconds. Each execution of the
 * run's and the model's workflow stays within the event budget; the budget
 * is watched while the clock runs, so a history that outgrows it fails the
 * test at once.
 */
const BAKE_SECONDS = 30 * 86_400;

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

  it('keeps a 30-day bake, looking for regressions every 30 minutes, within the budget', async () => {
    const model = 'week-bake';
    const { runId, workflowId } = await candidateAwaitingApproval(
      ts,
      model,
      data,
      readmePolicy({
        canary: { onInconclusive: 'proceed' },
        bake: { seconds: BAKE_SECONDS, pollSeconds: 1_800 },
      }),
    );
    await approveByReviewers(ts, model, runId);
    const { result, largest, over } = await resultWithinBudget(ts, model, workflowId);
    expect(over).toBeNull();
    expect(result).toMatchObject({ outcome: 'promoted', reason: `bake window of ${BAKE_SECONDS} s passed` });
    for (const events of Object.values(largest)) expect(events).toBeLessThanOrEqual(EVENT_BUDGET);
  }, 600_000);
});
