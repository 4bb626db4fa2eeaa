import { describe, expect, it } from 'vitest';
import { chiSquaredHomogeneity, countCategories } from '../../../domain/drift/chi-squared';
import { chiSquaredSf, gammaQ, logGamma } from '../../../domain/drift/incomplete-gamma';
import { countsMap, expectClose, vectors } from './vectors';

describe('chiSquaredHomogeneity', () => {
  // Expected: scipy.stats.chi2_contingency(2 x k table, correction=False), categories
  // in order of first appearance (scripts/fixtures/drift/make_fixtures.py).
  it.each(vectors.chi2.map((v) => [v.name, v] as const))('%s matches scipy chi2_contingency', (_name, v) => {
    const r = chiSquaredHomogeneity(countsMap(v.reference), countsMap(v.current));
    expect(r.dof).toBe(v.dof);
    expectClose(r.statistic, v.statistic, 1e-12, 1e-15);
    expectClose(r.pValue, v.pValue, 1e-9);
  });

  it('gives a category seen on one side only a zero cell on the other', () => {
    const r = chiSquaredHomogeneity(
      new Map([['a', 10]]),
      new Map([
        ['a', 5],
        ['new', 5],
      ]),
    );
    expect(r.categories).toEqual(['a', 'new']);
    expect(r.dof).toBe(1);
    expect(Number.isFinite(r.statistic)).toBe(true);
  });

  it('drops a category with zero counts on both sides', () => {
    const r = chiSquaredHomogeneity(
      new Map([
        ['a', 10],
        ['b', 0],
      ]),
      new Map([
        ['a', 5],
        ['b', 0],
        ['c', 3],
      ]),
    );
    expect(r.categories).toEqual(['a', 'c']);
  });

  it.each([
    [new Map(), new Map([['a', 1]]), 'chiSquaredHomogeneity: reference has no counts'],
    [new Map([['a', 1]]), new Map([['a', 0]]), 'chiSquaredHomogeneity: current has no counts'],
    [
      new Map([['a', 1.5]]),
      new Map([['a', 1]]),
      "reference count of 'a' must be a non-negative integer, got 1.5",
    ],
  ])('rejects bad tables (%#)', (ref, cur, message) => {
    expect(() => chiSquaredHomogeneity(ref, cur)).toThrow(message);
  });
});

describe('countCategories', () => {
  it('counts labels and leaves nulls out', () => {
    const { counts, missing } = countCategories(['a', null, 'b', 'a', null]);
    expect([...counts]).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(missing).toBe(2);
  });
});

describe('gammaQ', () => {
  // Expected: scipy.special.gammaincc(a, x) on a grid a ∈ [0.5, 1000], x ∈ [1e-3, 5a+10]
  // that crosses x = a + 1, where the method switches from series to continued fraction.
  it.each(vectors.gammaincc.map((v) => [v.a, v.x, v.q] as const))('Q(%f, %f) = %f', (a, x, q) => {
    expectClose(gammaQ(a, x), q, 1e-9, 1e-300);
  });

  it('is 1 at x = 0 and 0 at x = ∞, and rejects a bad argument', () => {
    expect(gammaQ(2, 0)).toBe(1);
    expect(gammaQ(2, Number.POSITIVE_INFINITY)).toBe(0);
    expect(() => gammaQ(0, 1)).toThrow('gammaQ: a must be positive, got 0');
    expect(() => gammaQ(1, -1)).toThrow('gammaQ: x must be ≥ 0, got -1');
  });
});

describe('logGamma and chiSquaredSf', () => {
  // scipy.special.gammaln and scipy.stats.chi2.sf
  it.each([
    [0.5, 0.5723649429247],
    [100.5, 361.43554046777757],
    [1e-3, 6.907178885383853],
    [5, Math.log(24)],
  ])('logGamma(%f) = %f', (x, expected) => {
    expectClose(logGamma(x), expected, 1e-14);
  });

  it.each([
    [3.841458820694124, 1, 0.04999999999999989],
    [10, 4, 0.04042768199451279],
    [0, 3, 1],
  ])('chiSquaredSf(%f, %i) = %f', (x, dof, expected) => {
    expectClose(chiSquaredSf(x, dof), expected, 1e-12);
  });

  it('rejects dof ≤ 0', () => {
    expect(() => chiSquaredSf(1, 0)).toThrow('chiSquaredSf: dof must be positive, got 0');
  });
});
