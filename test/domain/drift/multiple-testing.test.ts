import { describe, expect, it } from 'vitest';
import { adjustPValues, benjaminiHochberg, bonferroni } from '../../../domain/drift/multiple-testing';
import { seededRandom } from '../../../domain/random';
import { expectClose, vectors } from './vectors';

describe('multiple-testing corrections', () => {
  // Expected: statsmodels.stats.multitest.multipletests(p, alpha, method), statsmodels 0.15.
  it.each(vectors.multipletests.map((v) => [v.name, v] as const))('%s matches statsmodels', (_name, v) => {
    const fn = v.method === 'fdr_bh' ? benjaminiHochberg : bonferroni;
    const r = fn(v.pValues, v.alpha);
    expect(r.reject).toEqual(v.reject);
    r.adjusted.forEach((p, i) => {
      expectClose(p, v.adjusted[i]!, 1e-15);
    });
  });

  const rand = seededRandom(11);
  const draws = Array.from({ length: 200 }, () => rand() ** 2);

  it('BH: adjusted values are monotone in p, at least p, at most 1, and in input order', () => {
    const { adjusted } = benjaminiHochberg(draws);
    const order = draws.map((_, i) => i).sort((a, b) => draws[a]! - draws[b]!);
    for (let k = 1; k < order.length; k++) {
      expect(adjusted[order[k]!]!).toBeGreaterThanOrEqual(adjusted[order[k - 1]!]!);
    }
    draws.forEach((p, i) => {
      expect(adjusted[i]!).toBeGreaterThanOrEqual(p);
      expect(adjusted[i]!).toBeLessThanOrEqual(1);
    });
  });

  it('BH: tied p-values get the same adjusted value; a permutation of the input permutes the output', () => {
    const tied = benjaminiHochberg([0.02, 0.5, 0.02]).adjusted;
    expect(tied[0]).toBe(tied[2]);
    expect(tied[0]).toBeCloseTo(0.03, 15);
    const reversed = benjaminiHochberg([...draws].reverse());
    expect([...reversed.adjusted].reverse()).toEqual(benjaminiHochberg(draws).adjusted);
  });

  it('BH rejects exactly the p-values whose adjusted value is ≤ alpha, and never fewer than Bonferroni', () => {
    const bh = benjaminiHochberg(draws, 0.05);
    const bonf = bonferroni(draws, 0.05);
    bh.adjusted.forEach((p, i) => {
      expect(bh.reject[i]).toBe(p <= 0.05);
    });
    bonf.reject.forEach((r, i) => {
      if (r) expect(bh.reject[i]).toBe(true);
    });
  });

  it("'none' passes the p-values through; an empty list gives empty results", () => {
    expect(adjustPValues([0.01, 0.2], 'none', 0.05)).toEqual({
      adjusted: [0.01, 0.2],
      reject: [true, false],
    });
    expect(adjustPValues([], 'bh')).toEqual({ adjusted: [], reject: [] });
  });

  it.each([
    [[0.5, Number.NaN], 0.05, 'benjaminiHochberg: pValues[1] is NaN, not a probability'],
    [[1.5], 0.05, 'benjaminiHochberg: pValues[0] is 1.5, not a probability'],
    [[0.5], 0, 'benjaminiHochberg: alpha must be in (0, 1), got 0'],
  ])('rejects %j at alpha %f', (p, alpha, message) => {
    expect(() => benjaminiHochberg(p, alpha)).toThrow(message);
  });
});
