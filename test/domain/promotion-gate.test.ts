import { describe, expect, it } from 'vitest';
import type { ClassificationMetrics } from '../../domain/metrics';
import { evaluationPolicySchema } from '../../domain/policy';
import { promotionGate } from '../../domain/promotion-gate';

const policy = evaluationPolicySchema.parse({ minImprovement: 0.01, minAccuracy: 0.6 });
const scored = (accuracy: number): ClassificationMetrics => ({
  accuracy,
  logLoss: 0.4,
  positiveRate: 0.5,
  n: 1000,
});

describe('promotionGate', () => {
  it.each([
    [
      'first model above the minimum',
      0.7,
      null,
      'pass',
      'no champion yet: candidate accuracy 0.700 ≥ required minimum 0.600',
    ],
    [
      'first model exactly at the minimum',
      0.6,
      null,
      'pass',
      'no champion yet: candidate accuracy 0.600 ≥ required minimum 0.600',
    ],
    [
      'first model below the minimum',
      0.55,
      null,
      'fail',
      'no champion yet: candidate accuracy 0.550 < required minimum 0.600',
    ],
    [
      'a clear gain',
      0.912,
      0.874,
      'pass',
      'candidate accuracy 0.912 vs champion 0.874: +0.038 ≥ required +0.010',
    ],
    // 0.87 − 0.86 = 0.010000000000000009 and 0.61 − 0.6 = 0.010000000000000009 in doubles;
    // 0.611 − 0.601 = 0.009999999999999898: all three are "exactly" the minimum.
    [
      'a gain exactly at the minimum',
      0.87,
      0.86,
      'pass',
      'candidate accuracy 0.870 vs champion 0.860: +0.010 ≥ required +0.010',
    ],
    ['a gain at the minimum, rounded below it', 0.611, 0.601, 'pass', '+0.010 ≥ required +0.010'],
    [
      'a tiny gain',
      0.875,
      0.874,
      'fail',
      'candidate accuracy 0.875 vs champion 0.874: +0.001 < required +0.010',
    ],
    // 3 decimals would print "+0.010 < required +0.010"; the reason widens to tell them apart.
    [
      'a gain just short of the minimum',
      0.8796,
      0.87,
      'fail',
      'candidate accuracy 0.8796 vs champion 0.8700: +0.0096 < required +0.0100',
    ],
    [
      'a worse candidate',
      0.85,
      0.874,
      'fail',
      'candidate accuracy 0.850 vs champion 0.874: -0.024 < required +0.010',
    ],
  ] as const)('%s → %s', (_name, candidate, champion, decision, reason) => {
    const verdict = promotionGate({
      candidate: scored(candidate),
      champion: champion === null ? null : scored(champion),
      policy,
    });
    expect(verdict.decision).toBe(decision);
    expect(verdict.reasons[0]).toContain(reason);
    expect(verdict.metric).toBe('accuracy');
    expect(verdict.candidate).toBe(candidate);
    expect(verdict.champion).toBe(champion);
    if (champion === null) expect(verdict.improvement).toBeNull();
    else expect(verdict.improvement).toBeCloseTo(candidate - champion, 15);
  });

  it('with a champion, judges only the improvement, not the absolute minimum', () => {
    const verdict = promotionGate({ candidate: scored(0.55), champion: scored(0.5), policy });
    expect(verdict.decision).toBe('pass');
  });

  it('rejects a non-finite metric', () => {
    expect(() => promotionGate({ candidate: scored(Number.NaN), champion: null, policy })).toThrow(
      'promotionGate: candidate accuracy is NaN',
    );
    expect(() => promotionGate({ candidate: scored(0.9), champion: scored(Number.NaN), policy })).toThrow(
      'promotionGate: champion accuracy is NaN',
    );
  });
});
