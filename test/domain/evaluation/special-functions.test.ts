import { describe, expect, it } from 'vitest';
import {
  binomialCdf,
  binomialProbability,
  chiSquared1Survival,
  erfc,
} from '../../../domain/evaluation/special-functions';
import vectors from '../../fixtures/evaluation/vectors.json';
import { expectClose } from './close';

// Expected values: scipy.special.erfc, scipy.stats.chi2.sf(x, 1), scipy.stats.binom.cdf(k, n, p),
// from scripts/fixtures/evaluation/make_fixtures.py.
describe('erfc', () => {
  it.each(vectors.erfc)('erfc($x) = $expected', ({ x, expected }) => {
    expectClose(erfc(x), expected, 1e-13);
  });

  it('keeps relative precision in the far tail, where 1 − erf(x) is 0', () => {
    expect(erfc(26)).toBeGreaterThan(0);
    expect(1 - (1 - erfc(10))).toBe(0);
  });

  it('rejects NaN', () => {
    expect(() => erfc(Number.NaN)).toThrow('erfc: x is NaN');
  });
});

describe('chiSquared1Survival', () => {
  it.each(vectors.chi2Survival)('P(χ²₁ ≥ $x) = $expected', ({ x, expected }) => {
    expectClose(chiSquared1Survival(x), expected, 1e-13);
  });

  it('is 1 at and below 0', () => {
    expect(chiSquared1Survival(-1)).toBe(1);
  });
});

describe('binomialCdf', () => {
  // Large n loses digits to log-gamma's absolute error (1e-9 relative at n = 10⁶); these n stay ≤ 10⁴.
  it.each(vectors.binomialCdf)('P(X ≤ $k), X ~ Bin($n, $p) = $expected', ({ k, n, p, expected }) => {
    expectClose(binomialCdf(k, n, p), expected, 1e-10);
  });

  it.each([
    [5, 5, 0.3, 1],
    [7, 5, 0.3, 1],
    [2, 5, 0, 1],
    [2, 5, 1, 0],
  ])('edge: P(X ≤ %i), X ~ Bin(%i, %f) = %f', (k, n, p, expected) => {
    expect(binomialCdf(k, n, p)).toBe(expected);
  });

  it('sums the probabilities', () => {
    let sum = 0;
    for (let k = 0; k <= 7; k++) sum += binomialProbability(k, 30, 0.4);
    expectClose(binomialCdf(7, 30, 0.4), sum, 1e-12);
  });

  it.each([
    [() => binomialCdf(1, 2.5, 0.5), 'binomialCdf: n must be a non-negative integer, got 2.5'],
    [() => binomialCdf(-1, 2, 0.5), 'binomialCdf: k must be a non-negative integer, got -1'],
    [() => binomialProbability(1, 2, 1.5), 'binomialProbability: p must be in [0, 1], got 1.5'],
  ])('rejects bad arguments (%#)', (call, message) => {
    expect(call).toThrow(message);
  });
});
