import { describe, expect, it } from 'vitest';
import { kolmogorovSmirnovSf, smirnovSf } from '../../../domain/drift/kolmogorov';
import { KS_EXACT_MAX_N, ksTwoSample } from '../../../domain/drift/ks';
import { countAtMost } from '../../../domain/drift/sample';
import { normalSample, seededRandom } from '../../../domain/random';
import { expand, expectClose, vectors } from './vectors';

// Expected values: scipy.stats.ks_2samp(reference, current, method='auto') and
// scipy.stats.kstwo.sf(x, n), SciPy 1.17.1 (scripts/fixtures/drift/make_fixtures.py).
// Tolerance: D exactly; p 1e-9 relative (stricter than the 1e-6 asked for). The
// largest measured difference is 1.1e-11, where SciPy uses Pomeranz's recursion
// and this code the Durbin matrix for the same exact probability.
const P_REL = 1e-9;

describe('ksTwoSample', () => {
  it.each(vectors.ks.map((v) => [v.name, v] as const))('%s matches scipy ks_2samp', (_name, v) => {
    const r = ksTwoSample(expand(v.reference), expand(v.current));
    expect(r.method).toBe(v.method);
    expect(r.reference.count).toBe(v.n1);
    expect(r.current.count).toBe(v.n2);
    expect(r.statistic).toBe(v.statistic);
    expectClose(r.pValue, v.pValue, P_REL);
  });

  it('covers both paths and every kstwo branch the asymptotic path can take', () => {
    expect(new Set(vectors.ks.map((v) => v.method))).toEqual(new Set(['exact', 'asymptotic']));
    expect(new Set(vectors.ks.map((v) => v.kstwoPath).filter(Boolean))).toEqual(
      new Set(['pelz-good', 'smirnov', 'zero', 'durbin', 'pomeranz']),
    );
  });

  it('switches to the asymptotic path above max(n1, n2) = 10000, as SciPy 1.17 does', () => {
    const a = Float64Array.from({ length: KS_EXACT_MAX_N }, (_, i) => i);
    const b = Float64Array.from({ length: 50 }, (_, i) => i * 200 + 0.5);
    expect(ksTwoSample(a, b).method).toBe('exact');
    expect(ksTwoSample(Float64Array.of(...a, 1e6), b).method).toBe('asymptotic');
  });

  it('handles ties across the samples: D is taken after all equal values', () => {
    // F_a and F_b agree at every value after their ties are counted: D = 0, p = 1.
    const r = ksTwoSample([1, 1, 2, 2], [1, 2]);
    expect(r).toMatchObject({ statistic: 0, pValue: 1 });
  });

  it('leaves out and counts null, NaN and ±Infinity', () => {
    const r = ksTwoSample([1, null, 2, Number.NaN], [1, 2, Number.POSITIVE_INFINITY]);
    expect(r.reference).toEqual({ count: 2, missing: 2 });
    expect(r.current).toEqual({ count: 2, missing: 1 });
  });

  it('does not depend on the order of the input', () => {
    const rand = seededRandom(5);
    const a = Array.from({ length: 300 }, () => normalSample(rand));
    const b = Array.from({ length: 200 }, () => normalSample(rand) + 0.2);
    expect(ksTwoSample([...a].reverse(), b)).toEqual(ksTwoSample(a, b));
  });

  it('runs two 356,000-row samples in well under a second (one sort each, then a linear walk)', () => {
    const rand = seededRandom(9);
    const a = Float64Array.from({ length: 356_000 }, () => normalSample(rand));
    const b = Float64Array.from({ length: 356_000 }, () => normalSample(rand) + 0.01);
    const start = performance.now();
    const r = ksTwoSample(a, b);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(r.method).toBe('asymptotic');
    expect(r.pValue).toBeLessThan(0.05);
  });

  it.each([
    ['heavy ties, unequal sizes', 12_000, 15_001, 7],
    ['ties, equal sizes', 20_000, 20_000, 400],
    ['few ties, current smaller', 30_000, 11_000, 1e6],
  ])('D on the asymptotic path equals the maximum over distinct values (%s)', (_name, n1, n2, levels) => {
    // Integers in a small range (and -0 beside +0) make most values ties within and across samples.
    const rand = seededRandom(n1 + n2 + levels);
    const draw = (n: number, shift: number) =>
      Float64Array.from({ length: n }, (_, i) =>
        i % 97 === 0 ? -0 : Math.round(normalSample(rand) * levels * 0.3 + shift) / levels,
      );
    const a = draw(n1, 0);
    const b = draw(n2, levels * 0.02);
    const sa = Float64Array.from(a).sort();
    const sb = Float64Array.from(b).sort();
    let expected = 0;
    for (const x of new Set([...sa, ...sb])) {
      expected = Math.max(expected, Math.abs(countAtMost(sa, x) / n1 - countAtMost(sb, x) / n2));
    }
    const r = ksTwoSample(a, b);
    expect(r.method).toBe('asymptotic');
    expect(r.statistic).toBe(expected);
  });

  it.each([
    [[], [1], 'ksTwoSample: reference has no finite values'],
    [[1], [Number.NaN], 'ksTwoSample: current sample has no finite values'],
  ])('rejects %j vs %j', (a, b, message) => {
    expect(() => ksTwoSample(a, b)).toThrow(message);
  });
});

describe('kolmogorovSmirnovSf', () => {
  it.each(vectors.kstwo.map((v) => [v.n, v.x, v.path, v.sf] as const))(
    'n=%i x=%f (%s) matches scipy kstwo.sf',
    (n, x, _path, sf) => {
      expectClose(kolmogorovSmirnovSf(n, x), sf, P_REL);
    },
  );

  it('is 1 at x ≤ 0, 0 at x ≥ 1, NaN for NaN, and rejects a bad n', () => {
    expect(kolmogorovSmirnovSf(10, 0)).toBe(1);
    expect(kolmogorovSmirnovSf(10, 1)).toBe(0);
    expect(kolmogorovSmirnovSf(10, Number.NaN)).toBeNaN();
    expect(() => kolmogorovSmirnovSf(0, 0.1)).toThrow(
      'kolmogorovSmirnovSf: n must be a positive integer, got 0',
    );
  });
});

describe('smirnovSf', () => {
  // scipy.special.smirnov(n, x)
  it.each([
    [5, 0.5, 0.056],
    [1, 0.3, 0.7],
    [20, 0.04, 0.9157260329602531],
    [20, 0.05, 0.873652490231218],
    [20, 0.07, 0.7868339674797687],
    [1000, 0.03, 0.16203171395455085],
  ])('smirnov(%i, %f) = %f', (n, x, expected) => {
    expectClose(smirnovSf(n, x), expected, 1e-12);
  });
});
