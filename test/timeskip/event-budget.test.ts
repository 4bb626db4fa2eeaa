import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approveByReviewers,
  candidateAwaitingApproval,
  DAY,
  readmePolicy,
  writeRunData,
} from '../helpers/real-durations';
import {
  EVENT_BUDGET,
  resultWithinBudget,
  startTimeSkippingStack,
  type TimeSkippingStack,
} from '../helpers/time-skipping';

/**
 * The longest waits a policy allows: a month's approval and a month's bake.
 * Each execution of the run's workflow and of the model's stays within the
 * event budget (long waits continue as new); the budget is watched while the
 * clock runs, so a history that outgrows it fails the test at once.
 */
const BAKE_SECONDS = 30 * 86_400;

describe('event budget of the longest waits (time skipping)', () => {
  let ts: TimeSkippingStack;
  let data: { baseline: string; drifted: string };
  beforeAll(async () => {
    ts = await startTimeSkippingStack();
    data = await writeRunData(ts);
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
    console.info(`30-day approval wait: largest execution per workflow ${JSON.stringify(largest)}`);
    expect(over).toBeNull();
    expect(result).toMatchObject({ outcome: 'rejected_approval' });
    expect((await ts.now()) - opened).toBeGreaterThanOrEqual(30 * DAY);
    for (const events of Object.values(largest)) expect(events).toBeLessThanOrEqual(EVENT_BUDGET);
  });

  /**
   * The longest bake a policy allows. The run's history grows with the number
   * of watches, not of looks: a watch takes at least 12 looks and a bake at
   * most 100 watches (domain/watch-plan.ts, checked across the allowed range
   * in test/domain/watch-plan.test.ts). Looking every 30 minutes, this bake
   * makes 1,440 looks in 96 watches, nearly as many as a bake that looks
   * every second (100), so it shows the largest history while its looks stay
   * few enough to make in seconds.
   */
  it('keeps a 30-day bake, looking for regressions every 30 minutes, within the budget', async () => {
    const model = 'month-bake';
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
    console.info(
      `30-day bake looked at every 30 minutes: largest execution per workflow ${JSON.stringify(largest)}`,
    );
    expect(over).toBeNull();
    expect(result).toMatchObject({ outcome: 'promoted', reason: `bake window of ${BAKE_SECONDS} s passed` });
    for (const events of Object.values(largest)) expect(events).toBeLessThanOrEqual(EVENT_BUDGET);
  });
});
