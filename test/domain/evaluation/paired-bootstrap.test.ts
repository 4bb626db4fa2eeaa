import { describe, expect, it } from 'vitest';
import { pairedBootstrap, pairedBootstrapMeanDifference } from '../../../domain/evaluation/paired-bootstrap';
import { quantileSorted } from '../../../domain/evaluation/quantile';
import { seededRandom } from '../../../domain/random';
import vectors from '../../fixtures/evaluation/vectors.json';
import { expectClose } from './close';
import { boundTolerance, pValueTolerance } from './monte-carlo';
import { referenceMeanDifference, referenceRowBootstrap } from './reference-bootstrap';

// np.percentile(values, 100 * p, method='linear'): R type 7.
describe('quantileSorted', () => {
  it.each(vectors.quantile)('p = $p of $values.length values = $expected', ({ values, p, expected }) => {
    expectClose(quantileSorted(values, p), expected, 1e-14);
  });

  it.each([
    [[], 0.5, 'quantileSorted: needs at least one value'],
    [[1], 1.5, 'quantileSorted: p must be in [0, 1], got 1.5'],
  ])('rejects %j at p = %f', (values, p, message) => {
    expect(() => quantileSorted(values, p)).toThrow(message);
  });
});

const [meanReplay, rmseReplay] = vectors.bootstrapReplay;

// The fixtures port mulberry32 and replay the very same resamples (numpy), so these match to 1e-12.
// They were made from the row resampling before RowResampler; they pin the
// reference that the new resampling is checked against below.
describe('reference row bootstrap, replayed in Python', () => {
  it('mean of per-row differences: interval, p-value and standard error', () => {
    const v = meanReplay!;
    const result = referenceMeanDifference(Float64Array.from(v.diffs!), {
      resamples: v.resamples,
      alpha: v.alpha,
      random: seededRandom(v.seed),
    });
    expect(result).toMatchObject({ resamples: v.resamples, alpha: v.alpha, method: 'percentile' });
    expectClose(result.estimate, v.estimate, 1e-12);
    expectClose(result.lower, v.lower, 1e-12);
    expectClose(result.upper, v.upper, 1e-12);
    expect(result.pValue).toBe(v.pValue);
    expectClose(result.standardError, v.standardError, 1e-10);
  });

  it('any metric of weighted rows (RMSE)', () => {
    const v = rmseReplay!;
    const n = v.squaredErrorsCandidate!.length;
    const root = (counts: Uint32Array, squares: readonly number[]) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += counts[i]! * squares[i]!;
      return Math.sqrt(sum / n);
    };
    const result = referenceRowBootstrap(
      n,
      (w) => root(w, v.squaredErrorsCandidate!) - root(w, v.squaredErrorsChampion!),
      { resamples: v.resamples, alpha: v.alpha, random: seededRandom(v.seed) },
    );
    expectClose(result.estimate, v.estimate, 1e-12);
    expectClose(result.lower, v.lower, 1e-12);
    expectClose(result.upper, v.upper, 1e-12);
    expect(result.pValue).toBe(v.pValue);
    expectClose(result.standardError, v.standardError, 1e-10);
  });
});

describe('pairedBootstrapMeanDifference', () => {
  // 400 rows: 30 fixed by the candidate (+1), 20 broken (−1), the rest unchanged.
  const diffs = Float64Array.from({ length: 400 }, (_, i) => (i < 30 ? 1 : i < 50 ? -1 : 0));

  it('is deterministic: same seed, same interval', () => {
    const run = (seed: number) => pairedBootstrapMeanDifference(diffs, { random: seededRandom(seed) });
    expect(run(11)).toEqual(run(11));
    expect(run(11)).not.toEqual(run(12));
  });

  it('resamples few distinct values as a multinomial, agreeing with row resampling', () => {
    const resamples = 20_000;
    const atoms = pairedBootstrapMeanDifference(diffs, { resamples, random: seededRandom(1) });
    const rows = pairedBootstrapMeanDifference(diffs, {
      resamples,
      random: seededRandom(2),
      compress: false,
    });
    expect(atoms.estimate).toBe(0.025);
    expect(rows.estimate).toBe(0.025);
    const se = rows.standardError;
    expectClose(atoms.standardError, se, 0.03);
    for (const [q, a, r] of [
      [0.025, atoms.lower, rows.lower],
      [0.975, atoms.upper, rows.upper],
    ] as const) {
      expect(Math.abs(a - r)).toBeLessThanOrEqual(boundTolerance(se, q, resamples, resamples, 1 / 400));
    }
    expect(Math.abs(atoms.pValue - rows.pValue)).toBeLessThanOrEqual(
      pValueTolerance(rows.pValue, resamples, resamples),
    );
  });

  it.each([
    // 70,000 rows cross a block boundary (65,536); the short block holds the tail
    // of a skewed, heavy-tailed distribution, as log-loss differences are.
    ['log-normal-ish, two blocks', 70_000, 2000],
    ['few rows', 40, 4000],
  ])(
    'agrees with the reference row bootstrap within Monte Carlo error (%s)',
    (_, n, resamples) => {
      const random = seededRandom(n);
      const values = Float64Array.from({ length: n }, (_, i) => {
        const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
        return Math.exp(0.8 * z) - 1.2 + (i > 65_536 ? 0.5 : 0);
      });
      const fast = pairedBootstrapMeanDifference(values, {
        resamples,
        random: seededRandom(1),
        compress: false,
      });
      const reference = referenceMeanDifference(values, { resamples, random: seededRandom(2) });
      expect(fast.estimate).toBe(reference.estimate);
      const se = reference.standardError;
      // Standard error of a bootstrap SE estimate from B resamples ≈ SE/√(2B): 4 of them.
      expect(Math.abs(fast.standardError - se)).toBeLessThan(4 * se * Math.sqrt(1 / resamples));
      for (const [q, a, r] of [
        [0.025, fast.lower, reference.lower],
        [0.975, fast.upper, reference.upper],
      ] as const) {
        expect(Math.abs(a - r)).toBeLessThanOrEqual(boundTolerance(se, q, resamples, resamples, 0));
      }
      expect(Math.abs(fast.pValue - reference.pValue)).toBeLessThanOrEqual(
        pValueTolerance(reference.pValue, resamples, resamples),
      );
      // The reference draws 140 M rows one by one: seconds on a loaded 2-core machine.
    },
    60_000,
  );

  it('does not match a biased resampler: the agreement check has teeth', () => {
    // Rows 0..n/2 drawn twice as often as the rest: the interval shifts by several tolerances.
    const n = 2000;
    const values = Float64Array.from({ length: n }, (_, i) => (i < n / 2 ? 0 : 1) + 0.001 * (i % 7));
    const reference = referenceMeanDifference(values, { resamples: 2000, random: seededRandom(2) });
    const biased = referenceMeanDifference(
      Float64Array.from({ length: n }, (_, i) => values[i < n / 2 ? i : i - n / 2]!),
      { resamples: 2000, random: seededRandom(2) },
    );
    const tolerance = boundTolerance(reference.standardError, 0.025, 2000, 2000, 0);
    expect(Math.abs(biased.lower - reference.lower)).toBeGreaterThan(tolerance);
  });

  it('is deterministic on the row path: same seed, same interval', () => {
    const values = Float64Array.from({ length: 5000 }, (_, i) => Math.sin(i));
    const run = (seed: number) =>
      pairedBootstrapMeanDifference(values, { resamples: 300, random: seededRandom(seed), compress: false });
    expect(run(5)).toEqual(run(5));
    expect(run(5).lower).not.toBe(run(6).lower);
  });

  it('gives a degenerate interval on the row path when all differences are equal', () => {
    const result = pairedBootstrapMeanDifference(new Float64Array(100).fill(0.25), {
      resamples: 50,
      random: seededRandom(4),
      compress: false,
    });
    // 0.25 and its multiples are exact in binary: every resample's mean is exactly 0.25.
    expect(result).toMatchObject({ estimate: 0.25, lower: 0.25, upper: 0.25, pValue: 0, standardError: 0 });
  });

  it('resamples the single row of n = 1 on the row path', () => {
    const result = pairedBootstrapMeanDifference([-0.25], {
      resamples: 20,
      random: seededRandom(4),
      compress: false,
    });
    expect(result).toMatchObject({
      estimate: -0.25,
      lower: -0.25,
      upper: -0.25,
      pValue: 1,
      standardError: 0,
    });
  });

  it('gives a degenerate interval when every row moved the same way', () => {
    const result = pairedBootstrapMeanDifference([1, 1, 1], { resamples: 50, random: seededRandom(3) });
    expect(result).toMatchObject({ estimate: 1, lower: 1, upper: 1, pValue: 0, standardError: 0 });
  });

  it.each([
    [[], {}, 'pairedBootstrapMeanDifference: needs at least one row'],
    [[1, Number.NaN], {}, 'pairedBootstrapMeanDifference: diffs[1] is NaN'],
    [[1, 0], { resamples: 1 }, 'pairedBootstrap: resamples must be an integer ≥ 2, got 1'],
    [[1, 0], { alpha: 1 }, 'pairedBootstrap: alpha must be in (0, 1), got 1'],
  ])('rejects %j with %j', (values, options, message) => {
    expect(() => pairedBootstrapMeanDifference(values, { ...options, random: seededRandom(1) })).toThrow(
      message,
    );
  });
});

describe('pairedBootstrap', () => {
  it('needs exactly one of n and frequencies', () => {
    const metric = () => ({ candidate: 1, champion: 0 });
    expect(() => pairedBootstrap({ metric, random: seededRandom(1) })).toThrow(
      'pairedBootstrap: give exactly one of n (rows) and frequencies (atoms)',
    );
    expect(() => pairedBootstrap({ n: 0, metric, random: seededRandom(1) })).toThrow(
      'pairedBootstrap: n must be a positive integer, got 0',
    );
  });

  it('names a resample whose metric is not finite', () => {
    // Row 0 is the only positive: a resample without it has no AUC.
    const metric = (w: Uint32Array) => ({ candidate: w[0]! > 0 ? 1 : Number.NaN, champion: 0 });
    expect(() => pairedBootstrap({ n: 5, metric, random: seededRandom(1) })).toThrow(
      /pairedBootstrap: resample \d+ gave a difference of NaN/,
    );
  });
});
