import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide, expectStatus, getRun, writeDataset } from '../../scripts/lib/scenario';
import {
  candidateAwaitingApproval,
  DAY,
  HOUR,
  readmePolicy,
  rolloutEventBound,
  startWebhookReceiver,
} from '../helpers/real-durations';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/time-skipping';

/**
 * The approval stage at the README policy's real durations: a day for two
 * reviewers, a reminder an hour before that deadline, then four hours for a
 * lead. Days pass in seconds on the time-skipping server.
 */
describe('approval deadlines at real durations (time skipping)', () => {
  let ts: TimeSkippingStack;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let data: { baseline: string; drifted: string };
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    ts = await startTimeSkippingStack({ webhooks: [receiver.url] });
    data = {
      baseline: await writeDataset(ts.dataDir, 'baseline', { rows: 1500, seed: 61 }),
      drifted: await writeDataset(ts.dataDir, 'drifted', { rows: 1500, seed: 62, shift: 1.5 }),
    };
  });
  afterAll(async () => {
    await ts?.close();
    await receiver?.close();
  });

  it('takes the lead’s approval in hour 25, after the reviewers let the deadline pass', async () => {
    const model = 'approval-escalated';
    const { runId, workflowId, openedAt } = await candidateAwaitingApproval(
      ts,
      model,
      data,
      readmePolicy({ canary: { onInconclusive: 'rollback' } }),
    );
    await ts.skip(25 * HOUR);
    let run = await getRun(ts.api(), model, runId);
    expect(run.live.approval).toMatchObject({ level: 'escalation', group: 'ml-leads', decision: null });
    // A reviewer's word no longer counts once the decision has gone to the leads.
    expect((await decide(ts.api('bob'), model, runId, 'approve')).status).toBe(403);
    expectStatus(await decide(ts.api('carol'), model, runId, 'approve', 'ship it'), 200);
    const decidedAfter = (await ts.now()) - openedAt;
    expect(decidedAfter).toBeGreaterThanOrEqual(25 * HOUR);
    expect(decidedAfter).toBeLessThan(DAY + 4 * HOUR);

    // No traffic reaches the canary, so its 10-minute first step cannot decide and rolls back.
    const result = await ts.result<{ outcome: string; reason: string }>(workflowId);
    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/canary inconclusive at 10 %/);
    run = await getRun(ts.api(), model, runId);
    const kinds = run.audit.map((a: { kind: string }) => a.kind);
    expect(kinds).toEqual(expect.arrayContaining(['approval', 'rollback']));
    expect(run.audit.find((a: { kind: string }) => a.kind === 'approval')).toMatchObject({ actor: 'carol' });
    const events = await ts.historyLength(workflowId);
    console.info(`escalated approval, then a 10-minute canary step: ${events} events`);
    // 120 looks at the step (every 5 s for 10 minutes) in 10 watches.
    expect(events).toBeLessThanOrEqual(rolloutEventBound([{ seconds: 600, pollSeconds: 5 }]));
  });
});
