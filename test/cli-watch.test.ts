import { describe, expect, it } from 'vitest';
import { describeRun, exitCodeOf, formatDuration, type RunAnswer } from '../cli/watch';

const live = (over: Partial<NonNullable<RunAnswer['live']>> = {}): NonNullable<RunAnswer['live']> => ({
  training: { preemptions: 0, crashes: 0, lastCheckpoint: null },
  approval: {},
  canary: { weight: 0, paused: false, steps: [] },
  bakeEndsAt: null,
  held: null,
  ...over,
});
const run = (over: Partial<RunAnswer>): RunAnswer => ({
  id: 'r1',
  model: 'churn',
  stage: 'train',
  outcome: null,
  outcomeReason: null,
  candidateVersion: null,
  startedAt: '2026-12-06T00:00:00Z',
  endedAt: null,
  reports: {},
  live: live(),
  ...over,
});

describe("ctloop's run line", () => {
  it('shows training progress: steps of the total, speed, the last checkpoint and preemptions', () => {
    const line = describeRun(
      run({
        reports: {
          training: { step: 1200, total: 3000, stepsPerSecond: 410.5, lastCheckpoint: { step: 1100 } },
        },
        live: live({ training: { preemptions: 1, crashes: 0, lastCheckpoint: { step: 1150 } } }),
      }),
    );
    expect(line).toBe('stage train, step 1200/3000, 410.5 steps/s, checkpoint at 1150, 1 preemption(s)');
  });

  it("shows the canary's traffic share, the last step's verdict, a pause, and the bake's time left", () => {
    const canary = describeRun(
      run({
        stage: 'canary',
        live: live({
          canary: {
            weight: 50,
            paused: true,
            steps: [{ weight: 10, verdict: 'pass', candidateRequests: 40, championRequests: 380 }],
          },
        }),
      }),
    );
    expect(canary).toBe(
      'stage canary, candidate gets 50 % of traffic, last step 10 %: pass (40 candidate / 380 champion requests), paused',
    );
    const now = Date.parse('2026-12-06T00:00:00Z');
    const bake = describeRun(run({ stage: 'bake', live: live({ bakeEndsAt: '2026-12-07T12:00:00Z' }) }), now);
    expect(bake).toBe('stage bake, bake ends in 36.0 h');
    expect(formatDuration(7 * 86_400_000)).toBe('7.0 d');
    expect(formatDuration(90_000)).toBe('90 s');
    expect(formatDuration(45 * 60_000)).toBe('45 min');
    expect(formatDuration(5 * 3_600_000)).toBe('5.0 h');
  });

  it('ends with the outcome, and the exit code tells scripts which', () => {
    expect(describeRun(run({ outcome: 'rolled_back', outcomeReason: 'error rate +4 %' }))).toBe(
      'rolled_back: error rate +4 %',
    );
    expect(
      ['promoted', 'rejected_eval', 'rejected_approval', 'rolled_back', 'failed', 'cancelled'].map(
        exitCodeOf,
      ),
    ).toEqual([0, 3, 3, 4, 5, 6]);
  });
});
