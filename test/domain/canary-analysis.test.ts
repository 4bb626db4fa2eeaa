import { describe, expect, it } from 'vitest';
import { type CanaryVerdict, canaryStepVerdict, type VersionTraffic } from '../../domain/canary-analysis';
import { canaryPolicySchema } from '../../domain/policy';

const policy = canaryPolicySchema.parse({
  minRequests: 50,
  minLabelled: 30,
  stepMinSeconds: 10,
  stepMaxSeconds: 300,
  maxErrorRateIncrease: 0.02,
  maxAccuracyDrop: 0.05,
});

const traffic = (requests: number, errors: number, labelled = 0, correct = 0): VersionTraffic => ({
  requests,
  errors,
  labelled,
  correct,
  latencyMsP50: 12,
});

const HEALTHY_CHAMPION = traffic(1000, 10, 100, 90); // 1 % errors, 90 % accuracy

describe('canaryStepVerdict', () => {
  it.each<[string, VersionTraffic, VersionTraffic, number, CanaryVerdict, string]>([
    [
      'healthy after the minimum time',
      HEALTHY_CHAMPION,
      traffic(100, 1),
      60,
      'pass',
      'healthy: 100 ≥ 50 candidate requests',
    ],
    // 10 % vs 1 %: +9 points > 2
    [
      'high error rate',
      HEALTHY_CHAMPION,
      traffic(100, 10),
      60,
      'fail',
      'increase 9.00 points > allowed 2.00 points',
    ],
    // 5 errors in 10 requests: even 40 more successes leave 5/50 = 10 % > 1 % + 2 %
    [
      'errors that already doom the step',
      HEALTHY_CHAMPION,
      traffic(10, 5),
      5,
      'fail',
      'even if all 40 remaining requests up to 50 succeed',
    ],
    // 1 error in 10: best case 1/50 = 2 % ≤ 3 %, so keep watching
    [
      'an early error that could still wash out',
      HEALTHY_CHAMPION,
      traffic(10, 1),
      5,
      'wait',
      'waiting for 50 candidate requests',
    ],
    [
      'not enough requests yet',
      HEALTHY_CHAMPION,
      traffic(20, 0),
      60,
      'wait',
      'waiting for 50 candidate requests (have 20',
    ],
    [
      'enough requests before the step minimum',
      HEALTHY_CHAMPION,
      traffic(80, 0),
      5,
      'wait',
      'waiting for the step minimum 10s',
    ],
    [
      'the step maximum without enough traffic',
      HEALTHY_CHAMPION,
      traffic(20, 0),
      300,
      'inconclusive',
      'reached its 300s limit with 20/50',
    ],
    [
      'a failure outranks the time limit',
      HEALTHY_CHAMPION,
      traffic(20, 10),
      300,
      'fail',
      'errors already exceed the limit',
    ],
    // 75 % vs 90 %: −15 points > 5
    [
      'an accuracy drop',
      HEALTHY_CHAMPION,
      traffic(100, 1, 40, 30),
      60,
      'fail',
      'drop 15.00 points > allowed 5.00 points',
    ],
    [
      'an accuracy drop before enough requests',
      HEALTHY_CHAMPION,
      traffic(45, 0, 40, 30),
      5,
      'fail',
      'drop 15.00 points',
    ],
    // 87.5 % vs 90 %: −2.5 points ≤ 5
    [
      'a small accuracy drop',
      HEALTHY_CHAMPION,
      traffic(100, 1, 40, 35),
      60,
      'pass',
      'drop 2.50 points ≤ allowed 5.00 points',
    ],
    [
      'too little feedback to judge accuracy',
      HEALTHY_CHAMPION,
      traffic(100, 1, 29, 0),
      60,
      'pass',
      'accuracy not judged',
    ],
    [
      'too little champion feedback',
      traffic(1000, 10, 10, 10),
      traffic(100, 1, 40, 0),
      60,
      'pass',
      'champion 10)',
    ],
    // Zero champion traffic: its rate is taken as 0, so the bar is 2 % absolute.
    [
      'no champion traffic, 1 % errors',
      traffic(0, 0),
      traffic(100, 1),
      60,
      'pass',
      'vs champion 0.00% (0/0)',
    ],
    [
      'no champion traffic, 3 % errors',
      traffic(0, 0),
      traffic(100, 3),
      60,
      'fail',
      'increase 3.00 points > allowed 2.00 points',
    ],
    // 7/100 − 5/100 is 0.020000000000000004 in doubles: exactly at the limit, not over it.
    [
      'an increase exactly at the limit',
      traffic(100, 5),
      traffic(100, 7),
      60,
      'pass',
      'increase 2.00 points ≤ allowed',
    ],
    [
      'an increase just over the limit',
      traffic(100, 5),
      traffic(1000, 71),
      60,
      'fail',
      'increase 2.10 points > allowed',
    ],
  ])('%s → %s', (_name, champion, candidate, elapsedSeconds, verdict, reason) => {
    const result = canaryStepVerdict({ champion, candidate, elapsedSeconds, policy });
    expect(result.verdict).toBe(verdict);
    expect(result.reasons.join('\n')).toContain(reason);
  });

  it('puts the deciding reason first', () => {
    const result = canaryStepVerdict({
      champion: HEALTHY_CHAMPION,
      candidate: traffic(100, 10),
      elapsedSeconds: 60,
      policy,
    });
    expect(result.reasons[0]).toBe(
      'candidate error rate 10.00% (10/100) vs champion 1.00% (10/1000): increase 9.00 points > allowed 2.00 points',
    );
  });

  it.each<[string, VersionTraffic, number, string]>([
    [
      'negative counts',
      traffic(-1, 0),
      1,
      'canaryStepVerdict: candidate counts must be non-negative integers',
    ],
    [
      'more errors than requests',
      traffic(1, 2),
      1,
      'canaryStepVerdict: candidate has more errors (2) than requests (1)',
    ],
    [
      'more correct than labelled',
      traffic(5, 0, 1, 2),
      1,
      'canaryStepVerdict: candidate has more correct (2) than labelled (1)',
    ],
    ['negative elapsed time', traffic(5, 0), -1, 'canaryStepVerdict: elapsedSeconds must be ≥ 0'],
  ])('rejects %s', (_name, candidate, elapsedSeconds, message) => {
    expect(() =>
      canaryStepVerdict({ champion: HEALTHY_CHAMPION, candidate, elapsedSeconds, policy }),
    ).toThrow(message);
  });
});
