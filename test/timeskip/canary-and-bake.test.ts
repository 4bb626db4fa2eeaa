import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun, waitForRun } from '../../scripts/lib/scenario';
import { rollbackSignal } from '../../workflows/messages';
import {
  answerCanaryQuestion,
  approveByReviewers,
  candidateAwaitingApproval,
  DAY,
  HOUR,
  readmePolicy,
  rolloutEventBound,
  writeRunData,
} from '../helpers/real-durations';
import { startTimeSkippingStack, type TimeSkippingStack } from '../helpers/time-skipping';

type Result = { outcome: string; reason: string };

/**
 * The bakes' canary: 10-minute steps looked at once a minute, going on when a
 * step cannot decide (the README policy's canary, with its questions, is the
 * first test's). Bakes look for regressions every few minutes or every hour:
 * how often is the policy's choice, and these tests are about the window.
 */
const QUIET_CANARY = { pollSeconds: 60, onInconclusive: 'proceed' };
const QUIET_STEPS = [
  { seconds: 600, pollSeconds: 60 },
  { seconds: 600, pollSeconds: 60 },
];
type AuditRow = { kind: string; actor: string; reason: string | null };

/**
 * Canary steps of ten minutes and bakes of an hour, a day and a week, at real
 * durations on the time-skipping server. No prediction traffic reaches these
 * models, so every canary step runs to its 10-minute maximum without a
 * verdict; the bake's regression check looks at the (empty) traffic on every poll.
 */
describe('canary steps and bakes at real durations (time skipping)', () => {
  let ts: TimeSkippingStack;
  let data: { baseline: string; drifted: string };
  beforeAll(async () => {
    ts = await startTimeSkippingStack();
    data = await writeRunData(ts);
  });
  afterAll(async () => {
    await ts?.close();
  });

  const championOf = async (model: string) =>
    ((await ts.api()('GET', `/v1/models/${model}`)).body as { champion: number }).champion;
  const auditOf = async (model: string, runId: string) =>
    (await getRun(ts.api(), model, runId)).audit as AuditRow[];

  /** Approves the candidate and waits while the canary's watches run its steps; returns when the bake ends. */
  async function intoBake(model: string, runId: string) {
    await approveByReviewers(ts, model, runId);
    const run = await waitForRun(ts.api(), model, runId, (r) => Boolean(r.live?.bakeEndsAt));
    return Date.parse(run.live.bakeEndsAt as string);
  }

  it('asks a human about each 10-minute canary step that cannot decide, then promotes after an hour’s bake', async () => {
    const model = 'readme-policy';
    const { runId, workflowId, openedAt } = await candidateAwaitingApproval(ts, model, data, readmePolicy());
    await ts.skip(3 * HOUR);
    await approveByReviewers(ts, model, runId);
    const approvedAt = await ts.now();
    await answerCanaryQuestion(ts, model, runId, 10, ts.api('alice'));
    await answerCanaryQuestion(ts, model, runId, 50, ts.api('bob'));

    const result = await ts.result<Result>(workflowId);
    expect(result).toMatchObject({ outcome: 'promoted', reason: 'bake window of 3600 s passed' });
    // Two steps of 10 minutes each and an hour's bake, after the approval in hour 3.
    expect((await ts.now()) - approvedAt).toBeGreaterThanOrEqual(20 * 60_000 + HOUR);
    expect((await ts.now()) - openedAt).toBeLessThan(6 * HOUR);
    const run = await getRun(ts.api(), model, runId);
    expect(run.reports.canary.map((s: { weight: number; verdict: string }) => [s.weight, s.verdict])).toEqual(
      [
        [10, 'inconclusive'],
        [50, 'inconclusive'],
      ],
    );
    const audit = await auditOf(model, runId);
    expect(audit.filter((a) => a.kind === 'canary_proceed').map((a) => a.actor)).toEqual(['alice', 'bob']);
    expect(audit).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'promotion' })]));
    expect(audit.map((a) => a.kind)).not.toContain('rollback');
    expect(await championOf(model)).toBe(run.candidateVersion);

    const events = await ts.historyLength(workflowId);
    console.info(`README policy (two 10-minute steps, 1 h bake, polls every 5 s): ${events} events`);
    // 960 looks: 2 × 120 in the canary, 720 in the bake; 80 watches.
    expect(events).toBeLessThanOrEqual(
      rolloutEventBound([
        { seconds: 600, pollSeconds: 5 },
        { seconds: 600, pollSeconds: 5 },
        { seconds: 3600, pollSeconds: 5 },
      ]),
    );
  });

  it.each([
    { days: 1, pollSeconds: 300 },
    { days: 7, pollSeconds: 3600 },
  ])(
    'promotes after a bake of $days day(s), looking for regressions every $pollSeconds s',
    async ({ days, pollSeconds }) => {
      const model = `bake-${days}d`;
      const { runId, workflowId } = await candidateAwaitingApproval(
        ts,
        model,
        data,
        readmePolicy({
          canary: QUIET_CANARY,
          bake: { seconds: days * 86_400, pollSeconds },
        }),
      );
      const bakeEndsAt = await intoBake(model, runId);
      const result = await ts.result<Result>(workflowId);
      expect(result).toMatchObject({
        outcome: 'promoted',
        reason: `bake window of ${days * 86_400} s passed`,
      });
      expect(await ts.now()).toBeGreaterThanOrEqual(bakeEndsAt);
      const run = await getRun(ts.api(), model, runId);
      expect(await championOf(model)).toBe(run.candidateVersion);
      const kinds = (await auditOf(model, runId)).map((a) => a.kind);
      expect(kinds).toContain('promotion');
      expect(kinds).not.toContain('promotion_undone');

      const events = await ts.historyLength(workflowId);
      console.info(`${days}-day bake polled every ${pollSeconds} s: ${events} events`);
      expect(events).toBeLessThanOrEqual(
        rolloutEventBound([...QUIET_STEPS, { seconds: days * 86_400, pollSeconds }]),
      );
    },
  );

  it('rolls back on an operator’s signal in hour 20 of a day’s bake, restoring the previous champion', async () => {
    const model = 'bake-rollback';
    const { runId, workflowId } = await candidateAwaitingApproval(
      ts,
      model,
      data,
      readmePolicy({ canary: QUIET_CANARY, bake: { seconds: 86_400, pollSeconds: 300 } }),
    );
    const previous = await championOf(model);
    const bakeEndsAt = await intoBake(model, runId);
    const candidate = (await getRun(ts.api(), model, runId)).live.candidateVersion;
    expect(await championOf(model)).toBe(candidate);

    await ts.runWatchesTo(bakeEndsAt - DAY + 20 * HOUR);
    expect((await getRun(ts.api(), model, runId)).outcome).toBeNull();
    await ts.client.workflow
      .getHandle(workflowId)
      .signal(rollbackSignal, { by: 'olga', reason: 'complaints from the support desk' });
    const result = await ts.result<Result>(workflowId);
    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/rollback during bake: complaints from the support desk/);
    // Ended in hour 20, four hours before the window would have closed.
    expect(bakeEndsAt - (await ts.now())).toBeGreaterThan(3 * HOUR);
    expect(await championOf(model)).toBe(previous);
    const audit = await auditOf(model, runId);
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'rollback', actor: 'olga' }),
        expect.objectContaining({ kind: 'promotion_undone', actor: 'olga' }),
      ]),
    );
    const events = await ts.historyLength(workflowId);
    console.info(`rollback in hour 20 of a 24 h bake polled every 300 s: ${events} events`);
    expect(events).toBeLessThanOrEqual(
      rolloutEventBound([...QUIET_STEPS, { seconds: 20 * 3600, pollSeconds: 300 }]),
    );
  });
});
