import { describe, expect, it } from 'vitest';
import { binomialSample, RowResampler, resampleAtomCounts } from '../../../domain/evaluation/resampling';
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

describe('resampleAtomCounts', () => {
  it('draws n in all, every time', () => {
    const random = seededRandom(5);
    const atoms = new Uint32Array(4);
    for (let r = 0; r < 20; r++) {
      resampleAtomCounts([200, 0, 50, 7], atoms, random);
      expect(atoms.reduce((a, b) => a + b, 0)).toBe(257);
      expect(atoms[1]).toBe(0);
    }
  });

  it('gives each atom its share on average', () => {
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

describe('RowResampler', () => {
  // 1, one short block; 65,536, one full block; the others a full block and a short one, or several.
  const sizes = [1, 7, 1000, 65_536, 65_537, 140_000];

  it.each(sizes)('draws exactly n = %i rows per resample', (n) => {
    const resampler = new RowResampler(n, seededRandom(n));
    const counts = new Uint32Array(n);
    for (let r = 0; r < 5; r++) {
      resampler.counts(counts);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(n);
    }
  });

  it.each(sizes)('sum(values) is Σ counts·values of the same draws (n = %i)', (n) => {
    // Small integers: every sum is exact, whatever the order of additions.
    const values = Float64Array.from({ length: n }, (_, i) => (i * 7919) % 1000);
    const counts = new Uint32Array(n);
    const byCounts = new RowResampler(n, seededRandom(3));
    const bySum = new RowResampler(n, seededRandom(3));
    for (let r = 0; r < 3; r++) {
      byCounts.counts(counts);
      let expected = 0;
      for (let i = 0; i < n; i++) expected += counts[i]! * values[i]!;
      expect(bySum.sum(values)).toBe(expected);
    }
  });

  it('is deterministic: same seed, same resamples; another seed, others', () => {
    const draw = (seed: number) => {
      const counts = new Uint32Array(70_000);
      new RowResampler(70_000, seededRandom(seed)).counts(counts);
      return counts;
    };
    expect(draw(11)).toEqual(draw(11));
    expect(draw(11)).not.toEqual(draw(12));
  });

  it('gives every row Multinomial(n; 1/n) margins: mean 1, variance 1 − 1/n, in every block', () => {
    // 65,536 + 4,464 rows: a block-level split that favoured the full block (or
    // the short one) would move the mean count of the short block's rows away from 1.
    const n = 70_000;
    const resamples = 400;
    const resampler = new RowResampler(n, seededRandom(21));
    const counts = new Uint32Array(n);
    const blockShares = [0, 0];
    let squares = 0;
    for (let r = 0; r < resamples; r++) {
      resampler.counts(counts);
      for (let i = 0; i < n; i++) {
        blockShares[i < 65_536 ? 0 : 1]! += counts[i]!;
        squares += (counts[i]! - 1) ** 2;
      }
    }
    // Draws in the short block: Binomial(n, 4464/n) per resample, sd 61, so 400 resamples: sd 1.2k of 1.79M.
    const shortExpected = resamples * 4464;
    expect(Math.abs(blockShares[1]! - shortExpected)).toBeLessThan(4 * Math.sqrt(resamples * 4464));
    // Var(count) = 1 − 1/n; the mean of 28M squared deviations has sd about √2/√(28M)·… < 0.001.
    expect(squares / (n * resamples)).toBeCloseTo(1 - 1 / n, 2);
  });

  it('spreads draws uniformly within a block (chi-squared over 64 groups of rows)', () => {
    const n = 65_536 + 1000;
    const resampler = new RowResampler(n, seededRandom(8));
    const counts = new Uint32Array(n);
    const groups = new Float64Array(64);
    const resamples = 50;
    for (let r = 0; r < resamples; r++) {
      resampler.counts(counts);
      for (let i = 0; i < 65_536; i++) groups[i >> 10]! += counts[i]!;
    }
    const expected = (resamples * n * 1024) / n;
    let statistic = 0;
    for (const observed of groups) statistic += (observed - expected) ** 2 / expected;
    // chi2(63) upper 1e-4 tail ≈ 120 (Wilson–Hilferty, as above); a draw pattern biased to some rows fails.
    expect(statistic).toBeLessThan(120);
  });

  it('always draws the one row of n = 1', () => {
    const resampler = new RowResampler(1, seededRandom(1));
    expect(resampler.sum(Float64Array.from([2.5]))).toBe(2.5);
    const counts = new Uint32Array(1);
    resampler.counts(counts);
    expect(counts[0]).toBe(1);
  });

  it.each([0, 1.5, -3])('rejects n = %f', (n) => {
    expect(() => new RowResampler(n, seededRandom(1))).toThrow(
      `RowResampler: n must be a positive integer, got ${n}`,
    );
  });

  it('rejects arrays of the wrong length', () => {
    const resampler = new RowResampler(3, seededRandom(1));
    expect(() => resampler.counts(new Uint32Array(2))).toThrow(
      'RowResampler: counts has length 2, expected 3',
    );
    expect(() => resampler.sum(new Float64Array(4))).toThrow('RowResampler: values has length 4, expected 3');
  });
});
