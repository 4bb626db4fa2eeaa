import { describe, expect, it } from 'vitest';
import { driftPolicySchema } from '../../../domain/drift/policy';
import { type ColumnarData, type DriftFeature, driftReport } from '../../../domain/drift/report';
import { normalSample, seededRandom } from '../../../domain/random';

/** 0, 1, …, 99 shifted by s: ks_2samp(arange(100), arange(100) + s) has D = s/100 and an exact p. */
const grid = (s: number) => Float64Array.from({ length: 100 }, (_, i) => i + s);
const numeric = (...names: string[]): DriftFeature[] => names.map((name) => ({ name, kind: 'numeric' }));
const FIVE = numeric('f1', 'f2', 'f3', 'f4', 'f5');
const reference: ColumnarData = Object.fromEntries(FIVE.map((f) => [f.name, grid(0)]));
const shifted = (s1: number, s2: number): ColumnarData => ({ ...reference, f1: grid(s1), f2: grid(s2) });

describe('driftReport verdict', () => {
  // Exact KS p-values from scipy.stats.ks_2samp(np.arange(100.), np.arange(100.) + s):
  //   s=20: 0.03638428787491733, s=21: 0.024055802841094577,
  //   s=22: 0.015577131622877688, s=25: 0.0037294923618311367; s=0: 1.
  // psiThreshold 100 leaves the decision to the tests; 2 of 5 features = 0.4 retrains.
  it.each([
    ['A: p = .0037, .0156', 'none', ['f1', 'f2'], true, shifted(25, 22)],
    ['A: p = .0037, .0156', 'bh', ['f1', 'f2'], true, shifted(25, 22)],
    ['A: p = .0037, .0156', 'bonferroni', ['f1'], false, shifted(25, 22)],
    ['B: p = .0364, .0241', 'none', ['f1', 'f2'], true, shifted(20, 21)],
    ['B: p = .0364, .0241', 'bh', [], false, shifted(20, 21)],
  ] as const)(
    '%s with correction %s: drifted %j, retrain %s',
    (_data, correction, drifted, retrain, current) => {
      const report = driftReport({
        reference,
        current,
        features: FIVE,
        policy: { correction, psiThreshold: 100, minDriftedShare: 0.4 },
      });
      expect(report.features.filter((f) => f.drifted).map((f) => f.name)).toEqual(drifted);
      expect(report.verdict.drifted).toBe(retrain);
      expect(report.verdict.share).toBe(drifted.length / 5);
    },
  );

  it('reports the adjusted p-values (BH on the five features of data set A)', () => {
    const report = driftReport({ reference, current: shifted(25, 22), features: FIVE });
    expect(report.features.map((f) => f.pValue)).toEqual([
      0.0037294923618311367, 0.015577131622877688, 1, 1, 1,
    ]);
    // statsmodels multipletests([.00373, .01558, 1, 1, 1], method='fdr_bh'): [.0186, .0389, 1, 1, 1]
    expect(report.features[0]!.adjustedPValue).toBeCloseTo(0.0037294923618311367 * 5, 15);
    expect(report.features[1]!.adjustedPValue).toBeCloseTo((0.015577131622877688 * 5) / 2, 15);
  });

  it.each([
    ['over the share: 2 of 5 features shifted', [40, 40], {}, true, 0.4],
    ['under the share: 1 of 5 features shifted', [40, 0], {}, false, 0.2],
    ['the same 1 of 5 with minDriftedShare 0.2', [40, 0], { minDriftedShare: 0.2 }, true, 0.2],
  ] as const)('%s', (_name, [s1, s2], policy, retrain, share) => {
    const report = driftReport({ reference, current: shifted(s1, s2), features: FIVE, policy });
    expect(report.verdict).toMatchObject({ drifted: retrain, share });
    expect(report.verdict.reasons[0]).toMatch(new RegExp(`^${share * 5} of 5 features drifted`));
  });

  it('says why each feature drifted: PSI only, test only, or both', () => {
    const rand = seededRandom(21);
    const normals = (n: number, shift: number) =>
      Float64Array.from({ length: n }, () => normalSample(rand) + shift);
    // psiOnly: the current sample fills every other reference decile twice over (0–9 twice,
    // 20–29 twice, …): five empty bins, yet the ECDFs never differ by more than 0.1 (p = 0.70).
    const alternate = Float64Array.from({ length: 100 }, (_, i) => 20 * Math.floor(i / 20) + (i % 10));
    const report = driftReport({
      reference: { psiOnly: grid(0), testOnly: normals(20_000, 0), both: grid(0) },
      current: { psiOnly: alternate, testOnly: normals(20_000, 0.1), both: grid(40) },
      features: numeric('psiOnly', 'testOnly', 'both'),
    });
    const why = Object.fromEntries(report.features.map((f) => [f.name, f.reasons]));
    expect(why.psiOnly).toEqual([expect.stringMatching(/^PSI \d+(\.\d+)? > 0.2$/)]);
    expect(why.testOnly).toEqual([expect.stringMatching(/^KS D 0\.0\d+, BH-adjusted p .+ < 0.05$/)]);
    expect(why.both).toHaveLength(2);
    expect(report.verdict.reasons).toHaveLength(4);
  });

  it('tests a categorical feature with chi-squared and PSI over its categories', () => {
    const report = driftReport({
      reference: { plan: [...Array(300).fill('basic'), ...Array(100).fill('pro'), null] },
      current: { plan: [...Array(150).fill('basic'), ...Array(150).fill('pro'), ...Array(20).fill('team')] },
      features: [{ name: 'plan', kind: 'categorical' }],
    });
    const plan = report.features[0]!;
    expect(plan).toMatchObject({ kind: 'categorical', test: 'chi2', dof: 2, drifted: true });
    expect(plan.reference).toEqual({ count: 400, missing: 1 });
    if (plan.kind === 'categorical')
      expect(plan.categories.map((c) => c.category)).toEqual(['basic', 'pro', 'team']);
    // 'team' never appeared in the reference: listed with its share of the batch, and named in the reasons.
    expect(plan).toMatchObject({ unseen: [{ category: 'team', curShare: 20 / 320 }] });
    expect(plan.reasons.at(-1)).toBe("categories not in the reference: 'team' 6.3%");
  });

  it('fills the policy defaults', () => {
    const report = driftReport({ reference, current: reference, features: FIVE });
    expect(report.policy).toEqual(driftPolicySchema.parse({}));
    expect(report.policy).toEqual({
      psiThreshold: 0.2,
      pValue: 0.05,
      correction: 'bh',
      minDriftedShare: 0.3,
      bins: 10,
      epsilon: 1e-4,
    });
    expect(report.verdict).toEqual({
      drifted: false,
      share: 0,
      reasons: ['0 of 5 features drifted (0% < 30%)'],
    });
  });

  it.each([
    [{ features: [] }, 'driftReport: features must not be empty'],
    [{ features: numeric('f1', 'f1') }, "driftReport: feature 'f1' appears more than once"],
    [{ features: numeric('nope') }, "driftReport: reference has no column 'nope'"],
    [
      { features: [{ name: 'f1', kind: 'ordinal' }] },
      "feature 'f1' has kind 'ordinal', expected 'numeric' or",
    ],
    [{ current: { f1: ['a'] } }, 'driftReport: current column \'f1\' is numeric but row 0 holds "a"'],
    [
      { features: [{ name: 'f1', kind: 'categorical' }] },
      "reference column 'f1' is categorical but is a Float64Array",
    ],
    [{ current: { f1: [null, Number.NaN] } }, "driftReport: current column 'f1' has no finite values"],
    [{ policy: { correction: 'holm' } }, /correction/],
  ] as const)('rejects %j', (override, message) => {
    const input = { reference, current: reference, features: numeric('f1'), ...override };
    expect(() => driftReport(input as Parameters<typeof driftReport>[0])).toThrow(message);
  });
});
