import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalDecisions } from '../../db/schema';
import { decide, expectStatus, getRun } from '../../scripts/lib/scenario';
import {
  candidateAwaitingApproval,
  DAY,
  eventually,
  HOUR,
  readmePolicy,
  rolloutEventBound,
  startWebhookReceiver,
  writeRunData,
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
    data = await writeRunData(ts);
  });
  afterAll(async () => {
    await ts?.close();
    await receiver?.close();
  });

  it('reminds at hour 23, escalates to the leads at hour 24, and rejects the run at hour 28', async () => {
    const model = 'approval-expires';
    const { runId, workflowId, openedAt } = await candidateAwaitingApproval(ts, model, data, readmePolicy());
    // One reviewer of the two needed approves in hour 2; nobody else does.
    await ts.skip(2 * HOUR);
    expectStatus(await decide(ts.api('alice'), model, runId, 'approve', 'fine by me'), 200);
    const result = await ts.result<{ outcome: string; reason: string }>(workflowId);
    expect(result.outcome).toBe('rejected_approval');
    expect(result.reason).toMatch(/no decision before the deadline .* \(escalation level\)/);
    // The clock stopped at the escalation's deadline: 24 h + 4 h after the stage opened.
    expect((await ts.now()) - openedAt).toBeGreaterThanOrEqual(28 * HOUR);
    expect((await ts.now()) - openedAt).toBeLessThan(28 * HOUR + 10 * 60_000);

    const notes = await eventually(() => {
      const of = receiver.of(runId);
      return of.some((n) => n.event === 'approval.decided') && of;
    });
    const hoursIn = (at: string) => Math.round((Date.parse(at) - openedAt) / HOUR) + 0;
    expect(notes.map((n) => [n.event, hoursIn(n.at)])).toEqual([
      ['approval.requested', 0],
      ['approval.reminder', 23],
      ['approval.escalated', 24],
      ['approval.decided', 28],
    ]);
    const run = await getRun(ts.api(), model, runId);
    expect(run.outcome).toBe('rejected_approval');
    const kinds = run.audit.map((a: { kind: string }) => a.kind);
    expect(kinds).toContain('approval_expired');
    expect(kinds).not.toContain('approval');
    expect(run.audit.find((a: { kind: string }) => a.kind === 'approval_expired')).toMatchObject({
      actor: 'ctloop',
    });
    // Alice's vote is on record at the primary level, though it did not decide the run.
    const votes = await ts.database.db
      .select()
      .from(approvalDecisions)
      .where(eq(approvalDecisions.runId, runId));
    expect(votes).toEqual([
      expect.objectContaining({ actor: 'alice', decision: 'approve', level: 'primary', status: 'accepted' }),
    ]);
    // A day-long wait costs a handful of events, not one per hour.
    const events = await ts.historyLength(workflowId);
    console.info(`approval expiry at 28 h: ${events} events`);
    expect(events).toBeLessThan(300);
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
