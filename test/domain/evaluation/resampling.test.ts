import { describe, expect, it } from 'vitest';
import { binomialSample, resampleAtomCounts, resampleRowCounts } from '../../../domain/evaluation/resampling';
import { binomialProbability } from '../../../domain/evaluation/special-functions';
import { seededRandom } from '../../../domain/random';

/** Pearson's chi-squared statistic of observed counts against Binomial(n, p), tail cells pooled (expected ≥ 5). */
function chiSquaredAgainstBinomial(observed: Map<number, number>, draws: number, n: number, p: number) {
  let statistic = 0;
  let cells = 0;
  let pooledObserved = 0;
  let pooledExpected = 0;
  for (let k = 0; k <= n; k++) {
    pooledObserved += observed.get(k) ?? 0;
    pooledExpected += draws * binomialProbability(k, n, p);
    if (pooledExpected >= 5 || k === n) {
      statistic += (pooledObserved - pooledExpected) ** 2 / pooledExpected;
      cells++;
      pooledObserved = 0;
      pooledExpected = 0;
    }
  }
  return { statistic, dof: cells - 1 };
}

describe('binomialSample', () => {
  it.each([
    [20, 0.5],
    [30, 0.07],
    [1000, 0.3],
    [5, 0.98],
  ])('Bin(%i, %f) passes a chi-squared goodness-of-fit test', (n, p) => {
    const random = seededRandom(n);
    const draws = 20_000;
    const observed = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const k = binomialSample(n, p, random);
      observed.set(k, (observed.get(k) ?? 0) + 1);
    }
    const { statistic, dof } = chiSquaredAgainstBinomial(observed, draws, n, p);
    // Wilson–Hilferty: chi2(dof) ≈ dof·(1 − 2/(9 dof) + z·√(2/(9 dof)))³; z = 3.72 is the 1e-4 upper tail.
    const critical = dof * (1 - 2 / (9 * dof) + 3.72 * Math.sqrt(2 / (9 * dof))) ** 3;
    expect(statistic).toBeLessThan(critical);
  });

  it('has mean np and variance np(1 − p) for a million trials', () => {
    const random = seededRandom(99);
    const [n, p, draws] = [1_000_000, 0.1, 4000];
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < draws; i++) {
      const k = binomialSample(n, p, random);
      sum += k;
      squares += k * k;
    }
    const mean = sum / draws;
    const variance = squares / draws - mean * mean;
    const sd = Math.sqrt(n * p * (1 - p));
    // The mean of 4000 draws is within 4 standard errors (sd/√4000); the variance within 10%.
    expect(Math.abs(mean - n * p)).toBeLessThan((4 * sd) / Math.sqrt(draws));
    expect(variance / (sd * sd)).toBeGreaterThan(0.9);
    expect(variance / (sd * sd)).toBeLessThan(1.1);
  });

  it.each([
    [0, 0.5, 0],
    [10, 0, 0],
    [10, 1, 10],
  ])('Bin(%i, %f) is always %i', (n, p, k) => {
    expect(binomialSample(n, p, seededRandom(1))).toBe(k);
  });

  it.each([
    [-1, 0.5, 'binomialSample: n must be a non-negative integer, got -1'],
    [3, Number.NaN, 'binomialSample: p must be in [0, 1], got NaN'],
  ])('rejects Bin(%f, %f)', (n, p, message) => {
    expect(() => binomialSample(n, p, seededRandom(1))).toThrow(message);
  });
});

describe('resampleRowCounts and resampleAtomCounts', () => {
  it('draw n rows in all, every time', () => {
    const random = seededRandom(5);
    const rows = new Uint32Array(257);
    const atoms = new Uint32Array(4);
    for (let r = 0; r < 20; r++) {
      resampleRowCounts(rows, random);
      expect(rows.reduce((a, b) => a + b, 0)).toBe(257);
      resampleAtomCounts([200, 0, 50, 7], atoms, random);
      expect(atoms.reduce((a, b) => a + b, 0)).toBe(257);
      expect(atoms[1]).toBe(0);
    }
  });

  it('give each atom its share on average', () => {
    const random = seededRandom(8);
    const atoms = new Uint32Array(3);
    const totals = [0, 0, 0];
    for (let r = 0; r < 2000; r++) {
      resampleAtomCounts([100, 800, 100], atoms, random);
      for (let j = 0; j < 3; j++) totals[j]! += atoms[j]!;
    }
    // 2000 × 1000 draws: each share within 0.003 of 0.1, 0.8, 0.1 (> 6 standard errors).
    expect(totals.map((t) => t / 2_000_000)).toEqual([
      expect.closeTo(0.1, 2),
      expect.closeTo(0.8, 2),
      expect.closeTo(0.1, 2),
    ]);
  });

  it.each([
    [[1, -1], 'resampleAtomCounts: frequencies[1] must be a non-negative integer, got -1'],
    [[0, 0], 'resampleAtomCounts: needs a positive frequency'],
  ])('rejects frequencies %j', (frequencies, message) => {
    expect(() => resampleAtomCounts(frequencies, new Uint32Array(2), seededRandom(1))).toThrow(message);
  });
});
