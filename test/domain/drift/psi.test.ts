import { describe, expect, it } from 'vitest';
import { categoricalPsi, PSI_DEFAULT_EPSILON, psi } from '../../../domain/drift/psi';
import { normalSample, seededRandom } from '../../../domain/random';
import { countsMap, expand, expectClose, vectors } from './vectors';

const normal = (seed: number, n: number, mean = 0, sd = 1) => {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: n }, () => mean + sd * normalSample(rand));
};

describe('psi', () => {
  // Expected values: psi_reference() in scripts/fixtures/drift/make_fixtures.py,
  // an explicit numpy implementation of the same rule (R-7 quantile edges of the
  // reference, np.unique to merge duplicates, right-closed bins via
  // np.searchsorted(edges, x, side='left'), shares floored at epsilon).
  it.each(vectors.psi.map((v) => [v.name, v] as const))('%s matches the numpy reference', (_name, v) => {
    const r = psi(expand(v.reference), expand(v.current), { bins: v.binCount, epsilon: v.epsilon });
    expectClose(r.psi, v.psi, 1e-12, 1e-15);
    expect(r.bins).toHaveLength(v.bins.length);
    r.bins.forEach((bin, i) => {
      const want = v.bins[i]!;
      expect(bin.lower).toBe(want.lower ?? Number.NEGATIVE_INFINITY);
      expect(bin.upper).toBe(want.upper ?? Number.POSITIVE_INFINITY);
      expect(bin.refShare).toBe(want.refShare);
      expect(bin.curShare).toBe(want.curShare);
      expectClose(bin.contribution, want.contribution, 1e-12, 1e-15);
    });
  });

  it('is 0 for identical samples and small for two draws of one distribution', () => {
    const a = normal(1, 5000);
    expect(psi(a, a).psi).toBe(0);
    expect(psi(a, normal(2, 5000)).psi).toBeLessThan(0.02);
  });

  it.each([
    ['mean +0.5 sd', 0.5, 1],
    ['mean +1 sd', 1, 1],
    ['sd x2', 0, 2],
  ])('exceeds 0.2 for a shifted sample (%s)', (_name, mean, sd) => {
    expect(psi(normal(3, 5000), normal(4, 5000, mean, sd)).psi).toBeGreaterThan(0.2);
  });

  it('merges duplicate edges from ties and keeps open outer bins', () => {
    // 6 of 10 reference values are 0: the quantiles at 0.1 … 0.5 are all 0. Edges as
    // np.quantile([0,0,0,0,0,0,1,2,3,4], [.1, …, .9]) gives them, duplicates merged.
    const r = psi([0, 0, 0, 0, 0, 0, 1, 2, 3, 4], [0, 5, 9, -3], { bins: 10 });
    expect(r.bins[0]).toMatchObject({
      lower: Number.NEGATIVE_INFINITY,
      upper: 0,
      refShare: 0.6,
      curShare: 0.5,
    });
    expect(r.bins.map((b) => b.upper)).toEqual([
      0,
      0.39999999999999947,
      1.2999999999999998,
      2.2,
      3.0999999999999996,
      Infinity,
    ]);
    expect(r.bins.at(-1)).toMatchObject({ curShare: 0.5 }); // 5 and 9 are above every reference value
  });

  it('excludes and counts null, NaN and ±Infinity', () => {
    const r = psi(
      [1, 2, null, 3, Number.NaN, 4],
      [1, Number.POSITIVE_INFINITY, 2, Number.NEGATIVE_INFINITY],
      {
        bins: 2,
      },
    );
    expect(r.reference).toEqual({ count: 4, missing: 2 });
    expect(r.current).toEqual({ count: 2, missing: 2 });
  });

  it('floors empty shares at epsilon (1e-4 by default) instead of taking ln(0)', () => {
    const r = psi([1, 2, 3, 4], [3, 4, 5, 6], { bins: 2 });
    expect(PSI_DEFAULT_EPSILON).toBe(1e-4);
    expect(r.bins[0]).toMatchObject({ refShare: 0.5, curShare: 0 });
    expectClose(r.bins[0]!.contribution, (1e-4 - 0.5) * Math.log(1e-4 / 0.5), 1e-15);
    expect(Number.isFinite(r.psi)).toBe(true);
  });

  it.each([
    [[], [1], {}, 'psi: reference has no finite values'],
    [[1], [null], {}, 'psi: current sample has no finite values'],
    [[1], [1], { bins: 1 }, 'psi: bins must be an integer ≥ 2, got 1'],
    [[1], [1], { bins: 2.5 }, 'psi: bins must be an integer ≥ 2, got 2.5'],
    [[1], [1], { epsilon: 0 }, 'psi: epsilon must be in (0, 1), got 0'],
  ])('rejects %j vs %j with %j', (ref, cur, options, message) => {
    expect(() => psi(ref, cur, options)).toThrow(message);
  });
});

describe('categoricalPsi', () => {
  it.each(vectors.categoricalPsi.map((v) => [v.name, v] as const))('%s matches Python', (_name, v) => {
    const r = categoricalPsi(countsMap(v.reference), countsMap(v.current), { epsilon: v.epsilon });
    expectClose(r.psi, v.psi, 1e-12);
    expect(r.categories.map((c) => c.category)).toEqual(v.categories.map((c) => c.category));
    r.categories.forEach((c, i) => {
      expectClose(c.contribution, v.categories[i]!.contribution, 1e-12, 1e-15);
    });
  });

  it('rejects an empty side and a bad count', () => {
    expect(() => categoricalPsi(new Map(), new Map([['a', 1]]))).toThrow(
      'categoricalPsi: reference has no counts',
    );
    expect(() => categoricalPsi(new Map([['a', -1]]), new Map([['a', 1]]))).toThrow(
      "categoricalPsi: reference count of 'a' must be a non-negative integer, got -1",
    );
  });
});
