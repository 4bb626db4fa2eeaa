import { describe, expect, it } from 'vitest';
import { pairedBootstrap, pairedBootstrapMeanDifference } from '../../../domain/evaluation/paired-bootstrap';
import { quantileSorted } from '../../../domain/evaluation/quantile';
import { seededRandom } from '../../../domain/random';
import vectors from '../../fixtures/evaluation/vectors.json';
import { expectClose } from './close';
import { boundTolerance, pValueTolerance } from './monte-carlo';

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
describe('paired bootstrap, replayed in Python', () => {
  it('mean of per-row differences: interval, p-value and standard error', () => {
    const v = meanReplay!;
    const result = pairedBootstrapMeanDifference(Float64Array.from(v.diffs!), {
      resamples: v.resamples,
      alpha: v.alpha,
      random: seededRandom(v.seed),
      compress: false,
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
    const result = pairedBootstrap({
      n,
      resamples: v.resamples,
      alpha: v.alpha,
      random: seededRandom(v.seed),
      metric: (w) => ({
        candidate: root(w, v.squaredErrorsCandidate!),
        champion: root(w, v.squaredErrorsChampion!),
      }),
    });
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
