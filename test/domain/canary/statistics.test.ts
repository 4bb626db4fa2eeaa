import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mannWhitneyU } from '../../../domain/canary/mann-whitney-u';
import {
  alwaysValidPValue,
  normalMixtureSprt,
  twoProportionMixtureSprt,
} from '../../../domain/canary/mixture-sprt';
import type { Alternative } from '../../../domain/canary/normal';
import { normalCdf, normalPValue, normalSf } from '../../../domain/canary/normal';
import { type ProportionSample, twoProportionZTest } from '../../../domain/canary/two-proportion-z-test';

// Expected values: scripts/fixtures/canary/make_fixtures.py (SciPy 1.17.1, statsmodels 0.15.0, NumPy 2.4.6).
const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/canary/${name}`, import.meta.url), 'utf8')) as T;

interface ProportionCase {
  first: ProportionSample;
  second: ProportionSample;
  alternative: Alternative;
  nullDifference: number;
  expected: { difference: number; z: number; pValue: number; pooled: boolean };
}
interface MannWhitneyCase {
  name: string;
  first: number[];
  second: number[];
  alternative: Alternative;
  method: 'exact' | 'asymptotic';
  continuity: boolean;
  expected: { u: number; pValue: number };
}
interface MsprtCase {
  first: ProportionSample;
  second: ProportionSample;
  tau: number;
  nullDifference: number;
  alternative: Alternative;
  expected: { difference: number; variance: number; logLikelihoodRatio: number; pValue: number };
  alwaysValidPValue?: number;
}

const proportions = fixture<{ cases: ProportionCase[] }>('two-proportion.json').cases;
const mannWhitney = fixture<{ cases: MannWhitneyCase[] }>('mann-whitney.json').cases;
const msprt = fixture<{ cases: MsprtCase[]; looks: MsprtCase[] }>('msprt.json');
const TOLERANCE = 1e-6;

const label = (c: {
  first: ProportionSample;
  second: ProportionSample;
  alternative: string;
  nullDifference: number;
}) =>
  `${c.first.events}/${c.first.trials} vs ${c.second.events}/${c.second.trials}, ${c.alternative}, null ${c.nullDifference}`;

describe('twoProportionZTest', () => {
  // statsmodels proportions_ztest (null 0, pooled) / test_proportions_2indep(method='wald') (null ≠ 0).
  it.each(proportions.map((c) => [label(c), c] as const))('%s matches statsmodels', (_name, c) => {
    const r = twoProportionZTest(c.first, c.second, {
      alternative: c.alternative,
      nullDifference: c.nullDifference,
    });
    expect(r.pooled).toBe(c.expected.pooled);
    expect(r.difference).toBeCloseTo(c.expected.difference, 12);
    expect(Math.abs(r.z - c.expected.z)).toBeLessThan(TOLERANCE);
    expect(Math.abs(r.pValue - c.expected.pValue)).toBeLessThan(TOLERANCE);
  });

  it('gives p = 1 when both samples have no events at all', () => {
    const r = twoProportionZTest(
      { events: 0, trials: 50 },
      { events: 0, trials: 500 },
      { alternative: 'greater' },
    );
    expect(r).toMatchObject({ z: 0, pValue: 1 });
  });

  it.each([
    [{ events: 3, trials: 0 }, 'at least one trial'],
    [{ events: 5, trials: 4 }, 'events must be in [0, trials]'],
    [{ events: 1.5, trials: 4 }, 'integer counts'],
  ])('refuses %o', (bad, message) => {
    expect(() => twoProportionZTest(bad, { events: 1, trials: 10 })).toThrow(message);
  });
});

describe('mannWhitneyU', () => {
  // scipy.stats.mannwhitneyu(first, second, alternative=..., use_continuity=..., method=...).
  it.each(mannWhitney.map((c) => [c.name, c] as const))('%s matches scipy', (_name, c) => {
    const r = mannWhitneyU(c.first, c.second, {
      alternative: c.alternative,
      method: c.method,
      continuity: c.continuity,
    });
    expect(r.method).toBe(c.method);
    expect(r.u).toBeCloseTo(c.expected.u, 9);
    expect(Math.abs(r.pValue - c.expected.pValue)).toBeLessThan(TOLERANCE);
  });

  it("chooses the exact method as scipy's 'auto' does: no ties and a sample of at most 8", () => {
    expect(mannWhitneyU([1, 2, 3], [4, 5, 6, 7]).method).toBe('exact');
    expect(mannWhitneyU([1, 2, 2], [4, 5, 6, 7]).method).toBe('asymptotic');
    expect(
      mannWhitneyU(
        [...Array(9).keys()],
        [...Array(9).keys()].map((x) => x + 0.5),
      ).method,
    ).toBe('asymptotic');
  });

  it('gives p = 1 when every value is the same', () => {
    expect(mannWhitneyU([3, 3, 3], [3, 3]).pValue).toBe(1);
  });

  it('refuses empty samples, non-finite values, and the exact method with ties', () => {
    expect(() => mannWhitneyU([], [1])).toThrow('at least one value');
    expect(() => mannWhitneyU([1, Number.NaN], [1])).toThrow('finite');
    expect(() => mannWhitneyU([1, 2], [2, 3], { method: 'exact' })).toThrow('no ties');
  });
});

describe('normal mixture SPRT', () => {
  // Independent reference: two-sided closed form in NumPy; one-sided by quadrature of the
  // half-normal mixture (scipy.integrate.quad), checked there against nothing from this code.
  it.each(msprt.cases.map((c) => [label(c), c] as const))('%s matches the reference', (_name, c) => {
    const r = twoProportionMixtureSprt(c.first, c.second, {
      tau: c.tau,
      nullDifference: c.nullDifference,
      alternative: c.alternative,
    });
    expect(r.difference).toBeCloseTo(c.expected.difference, 12);
    expect(Math.abs(r.variance - c.expected.variance)).toBeLessThan(1e-12);
    expect(Math.abs(r.logLikelihoodRatio - c.expected.logLikelihoodRatio)).toBeLessThan(TOLERANCE);
    expect(Math.abs(r.pValue - c.expected.pValue)).toBeLessThan(TOLERANCE);
  });

  it('carries the smallest p-value across looks, so it never rises', () => {
    let running: number | undefined;
    const seen: number[] = [];
    for (const look of msprt.looks) {
      const r = twoProportionMixtureSprt(look.first, look.second, {
        tau: look.tau,
        nullDifference: look.nullDifference,
        alternative: look.alternative,
      });
      running = alwaysValidPValue(running, r.pValue);
      expect(Math.abs(running - look.alwaysValidPValue!)).toBeLessThan(TOLERANCE);
      seen.push(running);
    }
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
  });

  it('weighs evidence in the direction of the alternative only', () => {
    const worse = { estimate: 0.02, variance: 5.8e-5, tau: 0.03 };
    const greater = normalMixtureSprt({ ...worse, alternative: 'greater' });
    const twoSided = normalMixtureSprt({ ...worse, alternative: 'two-sided' });
    const less = normalMixtureSprt({ ...worse, alternative: 'less' });
    expect(greater.pValue).toBeLessThan(twoSided.pValue);
    expect(less.pValue).toBe(1);
  });

  it('refuses a zero variance or spread and out-of-range p-values', () => {
    expect(() => normalMixtureSprt({ estimate: 0, variance: 0, tau: 0.1 })).toThrow('variance');
    expect(() => normalMixtureSprt({ estimate: 0, variance: 1, tau: 0 })).toThrow('tau');
    expect(() => alwaysValidPValue(1.2, 0.5)).toThrow('[0, 1]');
  });
});

describe('standard normal', () => {
  // scipy.stats.norm.sf / cdf.
  it.each([
    [1.6448536269514722, 0.05],
    [3, 0.0013498980316301035],
    [-1, 0.8413447460685429],
    [8, 6.22096057427178e-16],
  ])('sf(%d) = %d', (z, p) => {
    expect(Math.abs(normalSf(z) - p) / p).toBeLessThan(1e-9);
    expect(normalCdf(-z)).toBeCloseTo(p, 12);
  });

  it('gives the p-value of each alternative', () => {
    expect(normalPValue(1.959963984540054, 'two-sided')).toBeCloseTo(0.05, 12);
    expect(normalPValue(Infinity, 'greater')).toBe(0);
    expect(normalPValue(-Infinity, 'greater')).toBe(1);
  });
});
