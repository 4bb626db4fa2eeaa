import { describe, expect, it } from 'vitest';
import { monitorVerdict } from '../../../domain/drift/monitor-verdict';
import { parseDriftPolicy } from '../../../domain/drift/policy';

const policy = parseDriftPolicy({}); // PSI 0.2, p 0.05 after BH, 30 % of features

describe('monitorVerdict', () => {
  it.each([
    // name, features, drifted, share
    [
      'one PSI over threshold of two',
      [
        { name: 'a', psi: 0.31 },
        { name: 'b', psi: 0.05 },
      ],
      true,
      0.5,
    ],
    ['PSI at the threshold is not drift', [{ name: 'a', psi: 0.2 }], false, 0],
    [
      // BH over (0.01, 0.04, 0.5): adjusted (0.03, 0.06, 0.5) — only a drifts: 1/3 ≥ 30 %
      'p-values are adjusted together (BH)',
      [
        { name: 'a', pValue: 0.01 },
        { name: 'b', pValue: 0.04 },
        { name: 'c', pValue: 0.5 },
      ],
      true,
      1 / 3,
    ],
    [
      'below the minimum share of drifted features',
      [
        { name: 'a', psi: 0.5 },
        { name: 'b', psi: 0 },
        { name: 'c', psi: 0 },
        { name: 'd', psi: 0 },
      ],
      false,
      0.25,
    ],
  ])('%s', (_name, features, drifted, share) => {
    const v = monitorVerdict(features, policy);
    expect(v.drifted).toBe(drifted);
    expect(v.share).toBeCloseTo(share, 12);
  });

  it('reports the adjusted p-values and why each feature drifted', () => {
    const v = monitorVerdict(
      [
        { name: 'a', pValue: 0.01 },
        { name: 'b', pValue: 0.04 },
      ],
      policy,
    );
    expect(v.features.map((f) => f.adjustedPValue)).toEqual([0.02, 0.04]);
    expect(v.features.every((f) => f.drifted)).toBe(true);
    expect(v.reasons[0]).toBe('2 of 2 features drifted (100% ≥ 30%)');
  });

  it('refuses an empty report or a feature without statistics', () => {
    expect(() => monitorVerdict([], policy)).toThrow('monitorVerdict: a report needs at least one feature');
    expect(() => monitorVerdict([{ name: 'x' }], policy)).toThrow('neither psi nor pValue');
  });

  it("judges a distance the policy has no threshold for by the monitor's threshold (at or above it is drift)", () => {
    const distance = (value: number) => ({ method: 'Wasserstein distance (normed)', value, threshold: 0.1 });
    const v = monitorVerdict(
      [
        { name: 'a', distance: distance(0.1), monitorDrifted: false },
        { name: 'b', distance: distance(0.099) },
      ],
      policy,
    );
    expect(v.features.map((f) => f.drifted)).toEqual([true, false]);
    expect(v.reasons[1]).toBe("a: Wasserstein distance (normed) 0.1 ≥ 0.1 (the monitor's threshold)");
  });

  it('refuses a feature named twice (its p-value would be adjusted twice)', () => {
    expect(() =>
      monitorVerdict(
        [
          { name: 'a', psi: 0.1 },
          { name: 'a', pValue: 0.2 },
        ],
        policy,
      ),
    ).toThrow('monitorVerdict: feature a appears more than once');
  });
});
