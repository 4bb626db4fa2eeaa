import { describe, expect, it } from 'vitest';
import {
  discordantCounts,
  MCNEMAR_EXACT_BELOW,
  mcnemar,
  mcnemarSmallestPValue,
} from '../../../domain/evaluation/mcnemar';
import vectors from '../../fixtures/evaluation/vectors.json';
import { expectClose } from './close';

// Expected values: statsmodels.stats.contingency_tables.mcnemar([[100, b], [c, 100]], exact=b + c < 25)
// (or exact= as forced), exact p-values also checked there against scipy.stats.binomtest.
describe('mcnemar', () => {
  it.each(vectors.mcnemar)('b = $b, c = $c (forced exact: $forceExact) → $method p = $pValue', (v) => {
    const options = v.forceExact === null ? {} : { exact: v.forceExact };
    const result = mcnemar({ b: v.b, c: v.c }, options);
    expect(result.method).toBe(v.method);
    expect(result.b).toBe(v.b);
    expect(result.c).toBe(v.c);
    expectClose(result.statistic, v.statistic, 1e-12);
    expectClose(result.pValue, v.pValue, 1e-10);
  });

  it('switches from exact to chi2-cc at 25 discordant pairs', () => {
    expect(MCNEMAR_EXACT_BELOW).toBe(25);
    expect(mcnemar({ b: 12, c: 12 }).method).toBe('exact');
    expect(mcnemar({ b: 12, c: 13 }).method).toBe('chi2-cc');
  });

  it('counts discordant pairs from booleans or 0/1', () => {
    const championCorrect = [true, true, false, false, true, false];
    const candidateCorrect = [true, false, true, true, true, true];
    expect(discordantCounts({ championCorrect, candidateCorrect })).toEqual({ b: 1, c: 3 });
    expect(
      mcnemar({ championCorrect: Uint8Array.from([1, 1, 0, 0]), candidateCorrect: [1, 0, 1, 1] }),
    ).toEqual(mcnemar({ b: 1, c: 2 }));
  });

  it('gives p = 1 with no discordant pairs, whichever method', () => {
    expect(mcnemar({ b: 0, c: 0 }).pValue).toBe(1);
    expect(mcnemar({ b: 0, c: 0 }, { exact: false }).pValue).toBe(1);
  });

  it.each([
    [1, 1],
    [5, 0.0625],
    [6, 0.03125],
  ])('smallest reachable p with %i discordant pairs is %f', (n, p) => {
    expect(mcnemarSmallestPValue(n)).toBe(p);
  });

  it.each([
    [() => mcnemar({ b: -1, c: 2 }), 'mcnemar: b must be a non-negative integer, got -1'],
    [() => mcnemar({ b: 1, c: 2.5 }), 'mcnemar: c must be a non-negative integer, got 2.5'],
    [
      () => mcnemar({ championCorrect: [true], candidateCorrect: [true, false] }),
      'mcnemar: championCorrect and candidateCorrect must have the same length (1 vs 2)',
    ],
  ])('rejects bad input (%#)', (call, message) => {
    expect(call).toThrow(message);
  });
});
