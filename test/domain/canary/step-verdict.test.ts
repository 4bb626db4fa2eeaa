import { describe, expect, it } from 'vitest';
import {
  analyzeCanaryStep,
  type CanaryVerdict,
  canaryStepVerdict,
  type VersionTraffic,
} from '../../../domain/canary-analysis';
import { canaryPolicySchema } from '../../../domain/policy';
import { normalSample, seededRandom } from '../../../domain/random';

const policy = canaryPolicySchema.parse({
  minRequests: 50,
  minLabelled: 50,
  stepMinSeconds: 10,
  stepMaxSeconds: 300,
  maxErrorRateIncrease: 0.02,
  maxAccuracyDrop: 0.05,
});

/** Log-normal latencies around `medianMs`, reproducible from the seed. */
function latencies(n: number, medianMs: number, seed: number): number[] {
  const rand = seededRandom(seed);
  return Array.from(
    { length: n },
    () => Math.round(medianMs * Math.exp(0.3 * normalSample(rand)) * 1000) / 1000,
  );
}

function traffic(
  requests: number,
  errors: number,
  labelled: number,
  correct: number,
  latencyMs: number[] | null = latencies(requests, 12, requests + errors),
): VersionTraffic {
  return { requests, errors, labelled, correct, latencyMsP50: null, ...(latencyMs ? { latencyMs } : {}) };
}

// 1 % errors, 90 % accuracy on labelled feedback, ~12 ms.
const CHAMPION = traffic(900, 9, 900, 810);

describe('canaryStepVerdict', () => {
  it.each<[string, VersionTraffic, VersionTraffic, number, CanaryVerdict, RegExp]>([
    [
      'a healthy candidate after the step minimum',
      CHAMPION,
      traffic(100, 1, 100, 90),
      60,
      'pass',
      /^healthy after 60s/,
    ],
    [
      'a healthy candidate before the step minimum',
      CHAMPION,
      traffic(100, 1, 100, 90),
      5,
      'wait',
      /the step minimum 10s/,
    ],
    // 30 % errors against 1 %: the sequential test stops the step at once, before its minimum time.
    ['a bad canary, early', CHAMPION, traffic(60, 18, 60, 54), 3, 'fail', /^errorRate failed after 3s/],
    ['a bad canary at the time limit', CHAMPION, traffic(60, 18, 60, 54), 300, 'fail', /^errorRate failed/],
    [
      'too little traffic before the limit',
      CHAMPION,
      traffic(20, 0, 20, 18),
      60,
      'wait',
      /waiting for errorRate, accuracy, latency/,
    ],
    [
      'too little traffic at the limit',
      CHAMPION,
      traffic(20, 0, 20, 18),
      300,
      'inconclusive',
      /300s limit still waiting for errorRate/,
    ],
    // 60 % vs 90 % accuracy on 100 candidate labels.
    ['an accuracy drop', CHAMPION, traffic(100, 1, 100, 60), 60, 'fail', /^accuracy failed/],
    // ~45 ms vs ~12 ms: far beyond max(20 % of 12 ms, 5 ms).
    [
      'a latency regression',
      CHAMPION,
      traffic(100, 1, 100, 90, latencies(100, 45, 3)),
      60,
      'fail',
      /^latency failed/,
    ],
    // 14 ms vs 12 ms is within the 5 ms allowance.
    [
      'a small latency increase',
      CHAMPION,
      traffic(100, 1, 100, 90, latencies(100, 14, 4)),
      60,
      'pass',
      /^healthy/,
    ],
    // 4 % vs 1 % on 100 requests: beyond the 2-point margin, but far from significant.
    [
      'an estimate beyond the margin, not yet significant',
      CHAMPION,
      traffic(100, 4, 100, 90),
      60,
      'wait',
      /waiting for errorRate/,
    ],
    [
      'no feedback yet (quality required)',
      CHAMPION,
      traffic(100, 1, 0, 0),
      60,
      'wait',
      /waiting for accuracy/,
    ],
    [
      'no latencies recorded',
      traffic(900, 9, 900, 810, null),
      traffic(100, 1, 100, 90, null),
      60,
      'pass',
      /errorRate, accuracy within/,
    ],
  ])('%s', (_name, champion, candidate, elapsedSeconds, verdict, summary) => {
    const result = canaryStepVerdict({ champion, candidate, elapsedSeconds, policy });
    expect(result.verdict).toBe(verdict);
    expect(result.reasons[0]).toMatch(summary);
  });

  it('reports each metric with its samples, estimates and p-values', () => {
    const result = analyzeCanaryStep({
      champion: CHAMPION,
      candidate: traffic(60, 18, 60, 54),
      elapsedSeconds: 3,
      policy,
    });
    expect(result.metrics.errorRate).toMatchObject({
      verdict: 'fail',
      test: 'msprt',
      samples: { champion: 900, candidate: 60 },
      champion: 0.01,
      candidate: 0.3,
      margin: 0.02,
    });
    expect(result.metrics.errorRate.harm).toBeCloseTo(0.29, 12);
    expect(result.metrics.errorRate.pValue).toBeLessThan(policy.alpha);
    expect(result.metrics.latency).toMatchObject({
      test: 'mann-whitney',
      samples: { champion: 900, candidate: 60 },
    });
    expect(result.reasons.slice(1).join('\n')).toMatch(
      /error rate: candidate 30.00% \(18\/60\) vs champion 1.00% \(9\/900\)/,
    );
  });

  it('lets a step pass without feedback when quality is not required', () => {
    const lenient = canaryPolicySchema.parse({ ...policy, requireQuality: false });
    const result = canaryStepVerdict({
      champion: CHAMPION,
      candidate: traffic(100, 1, 0, 0),
      elapsedSeconds: 60,
      policy: lenient,
    });
    expect(result.verdict).toBe('pass');
    expect(result.metrics.accuracy.verdict).toBe('skipped');
  });

  it('remembers a significant look: the always-valid p-value only falls within a step', () => {
    // The first look is damning; at the second the candidate looks better, but the evidence stands.
    const first = analyzeCanaryStep({
      champion: CHAMPION,
      candidate: traffic(60, 18, 60, 54),
      elapsedSeconds: 3,
      policy,
    });
    const second = analyzeCanaryStep({
      champion: CHAMPION,
      candidate: traffic(100, 2, 100, 90),
      elapsedSeconds: 20,
      policy,
      previous: first.sequential,
    });
    expect(second.verdict).toBe('fail');
    expect(second.metrics.errorRate.pValue).toBe(first.sequential.errorRate);
    const fresh = analyzeCanaryStep({
      champion: CHAMPION,
      candidate: traffic(100, 2, 100, 90),
      elapsedSeconds: 20,
      policy,
    });
    expect(fresh.verdict).toBe('pass');
  });

  it('uses a z-test at each look when the policy turns the sequential test off', () => {
    const fixed = canaryPolicySchema.parse({ ...policy, sequential: false });
    const result = analyzeCanaryStep({
      champion: CHAMPION,
      candidate: traffic(60, 18, 60, 54),
      elapsedSeconds: 3,
      policy: fixed,
    });
    expect(result.metrics.errorRate).toMatchObject({ verdict: 'fail', test: 'z-test' });
    expect(result.sequential.errorRate).toBe(result.metrics.errorRate.pValue);
  });

  it('waits for a shown non-inferiority when the policy requires it', () => {
    const strict = canaryPolicySchema.parse({ ...policy, requireNonInferiority: true });
    // 2 % vs 1 % on 100 requests: within the 2-point margin, but not shown to be.
    const few = analyzeCanaryStep({
      champion: CHAMPION,
      candidate: traffic(100, 2, 100, 90),
      elapsedSeconds: 60,
      policy: strict,
    });
    expect(few.verdict).toBe('wait');
    expect(few.metrics.errorRate.reason).toMatch(/non-inferiority p = .* > α 0.01/);
    const many = analyzeCanaryStep({
      champion: traffic(5000, 50, 5000, 4500),
      candidate: traffic(2000, 20, 2000, 1800),
      elapsedSeconds: 60,
      policy: strict,
    });
    expect(many.verdict).toBe('pass');
    expect(many.metrics.errorRate.nonInferiorityPValue).toBeLessThan(0.05);
  });

  it('keeps policies written before the statistics valid, with conservative defaults', () => {
    const old = canaryPolicySchema.parse({ minRequests: 30, minLabelled: 20, maxErrorRateIncrease: 0.05 });
    expect(old).toMatchObject({
      alpha: 0.01,
      sequential: true,
      minRequests: 30,
      minLabelled: 20,
      requireQuality: true,
    });
    expect(canaryPolicySchema.parse({})).toMatchObject({
      minRequests: 50,
      minLabelled: 50,
      latencySampleSize: 2000,
    });
  });

  it.each<[string, VersionTraffic, number, string]>([
    [
      'negative counts',
      traffic(-1, 0, 0, 0, []),
      1,
      'analyzeCanaryStep: candidate counts must be non-negative integers',
    ],
    [
      'more errors than requests',
      traffic(1, 2, 0, 0, []),
      1,
      'analyzeCanaryStep: candidate has more errors (2) than requests (1)',
    ],
    [
      'more correct than labelled',
      traffic(5, 0, 1, 2, []),
      1,
      'analyzeCanaryStep: candidate has more correct (2) than labelled (1)',
    ],
    [
      'a negative elapsed time',
      traffic(5, 0, 0, 0, []),
      -1,
      'analyzeCanaryStep: elapsedSeconds must be ≥ 0, got -1',
    ],
  ])('refuses %s', (_name, candidate, elapsedSeconds, message) => {
    expect(() => canaryStepVerdict({ champion: CHAMPION, candidate, elapsedSeconds, policy })).toThrow(
      message,
    );
  });
});
