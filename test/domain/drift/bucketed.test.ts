import { describe, expect, it } from 'vitest';
import { bucketedDrift } from '../../../domain/drift/bucketed';
import { ksTwoSampleSorted } from '../../../domain/drift/ks';
import { psiSorted } from '../../../domain/drift/psi';
import { driftReport } from '../../../domain/drift/report';
import { finiteSorted } from '../../../domain/drift/sample';
import { normalSample, type RandomSource, seededRandom } from '../../../domain/random';

/** What the sorted path reports for the same columns: the results bucketedDrift must equal. */
function sortedDrift(reference: Float64Array, current: Float64Array, options = { bins: 10, epsilon: 1e-4 }) {
  const a = finiteSorted(reference);
  const b = finiteSorted(current);
  return { ks: ksTwoSampleSorted(a, b), psi: psiSorted(a, b, options) };
}

const column = (n: number, seed: number, value: (rand: RandomSource, i: number) => number) => {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: n }, (_, i) => value(rand, i));
};
const normal =
  (shift = 0, scale = 1) =>
  (rand: RandomSource) =>
    shift + scale * normalSample(rand);

describe('bucketedDrift gives the sorted path’s PSI and KS, bit for bit', () => {
  // Each case: a reference and a current column, in the shapes feature columns take.
  const cases: [string, Float64Array, Float64Array][] = [
    ['same distribution', column(40_000, 1, normal()), column(40_000, 2, normal())],
    ['shifted and scaled', column(40_000, 3, normal()), column(40_000, 4, normal(0.05, 1.3))],
    ['far apart (D = 1)', column(20_000, 5, normal()), column(20_000, 6, normal(50))],
    ['unequal sizes', column(9_000, 7, normal()), column(31_000, 8, normal(0.1))],
    ['small, exact p-value path', column(6_000, 9, normal()), column(5_000, 10, normal(0.05))],
    [
      'six-decimal values, as a CSV holds them',
      column(30_000, 11, (r) => Math.round(normalSample(r) * 1e6) / 1e6),
      column(30_000, 12, (r) => Math.round((0.02 + normalSample(r)) * 1e6) / 1e6),
    ],
    [
      'many ties (integers 0 … 6)',
      column(30_000, 13, (r) => Math.round(3 + normalSample(r))),
      column(30_000, 14, (r) => Math.round(3.2 + normalSample(r))),
    ],
    [
      '60 % zeros, of both signs',
      column(30_000, 15, (r) => (r() < 0.6 ? (r() < 0.5 ? -0 : 0) : Math.abs(normalSample(r)))),
      column(30_000, 16, (r) => (r() < 0.55 ? 0 : Math.abs(normalSample(r)))),
    ],
    [
      'heavy tails (Cauchy)',
      column(30_000, 17, (r) => Math.tan(Math.PI * (r() - 0.5))),
      column(30_000, 18, (r) => 0.1 + Math.tan(Math.PI * (r() - 0.5))),
    ],
    [
      'log-normal, σ = 6',
      column(30_000, 19, (r) => Math.exp(6 * normalSample(r))),
      column(30_000, 20, (r) => Math.exp(0.2 + 6 * normalSample(r))),
    ],
    [
      // Stride 2 samples even rows only: the outliers on odd rows lie beyond the buckets' range.
      'outliers the range sample does not see',
      column(10_000, 21, (r, i) => (i % 2 === 1 && i % 1000 === 1 ? 1e12 : normalSample(r))),
      column(10_000, 22, (r, i) => (i % 2 === 1 && i % 777 === 0 ? -1e12 : normalSample(r))),
    ],
    [
      'missing cells (NaN, ±Infinity)',
      column(20_000, 23, (r) =>
        r() < 0.1 ? [Number.NaN, Infinity, -Infinity][Math.floor(r() * 3)]! : normalSample(r),
      ),
      column(20_000, 24, (r) => (r() < 0.2 ? Number.NaN : normalSample(r))),
    ],
    [
      'a narrow range (values near 1e-300)',
      column(20_000, 25, (r) => 1e-300 * (1 + r())),
      column(20_000, 26, (r) => 1e-300 * (1.01 + r())),
    ],
    [
      'the sample holds one value, the column more',
      column(20_000, 27, (_, i) => (i % 4 === 1 ? i : 7)),
      column(20_000, 28, (_, i) => (i % 3 === 1 ? -i : 7)),
    ],
  ];

  it.each(cases)('%s', (_, reference, current) => {
    const fast = bucketedDrift(reference, current, { bins: 10, epsilon: 1e-4 });
    expect(fast).not.toBeNull();
    expect(fast).toEqual(sortedDrift(reference, current));
    // toEqual treats -0 and +0 as equal; the edges must be the very same numbers.
    fast!.psi.bins.forEach((bin, i) => {
      expect(Object.is(bin.upper, sortedDrift(reference, current).psi.bins[i]!.upper)).toBe(true);
    });
  });

  it.each([2, 3, 20, 100])('with %i PSI bins', (bins) => {
    const reference = column(25_000, 30 + bins, normal());
    const current = column(25_000, 40 + bins, normal(0.03, 1.1));
    const options = { bins, epsilon: 1e-4 };
    expect(bucketedDrift(reference, current, options)).toEqual(sortedDrift(reference, current, options));
  });

  it('declines what it cannot bucket, and the report then sorts', () => {
    const constant = new Float64Array(5_000).fill(2);
    const empty = new Float64Array(5_000).fill(Number.NaN);
    const huge = column(5_000, 50, (r) => (r() < 0.5 ? -1 : 1) * Number.MAX_VALUE * r());
    const normals = column(5_000, 51, normal());
    expect(bucketedDrift(constant, constant, { bins: 10, epsilon: 1e-4 })).toBeNull();
    expect(bucketedDrift(empty, normals, { bins: 10, epsilon: 1e-4 })).toBeNull();
    // The range overflows to Infinity: no bucket width.
    expect(bucketedDrift(huge, normals, { bins: 10, epsilon: 1e-4 })).toBeNull();
    expect(bucketedDrift(normals, normals, { bins: 1, epsilon: 1e-4 })).toBeNull();

    const report = driftReport({
      reference: { x: huge, y: constant },
      current: { x: normals, y: constant },
      features: [
        { name: 'x', kind: 'numeric' },
        { name: 'y', kind: 'numeric' },
      ],
    });
    const [x, y] = report.features;
    expect(x).toMatchObject({ statistic: sortedDrift(huge, normals).ks.statistic });
    expect(y).toMatchObject({ statistic: 0, pValue: 1 });
    expect(() =>
      driftReport({
        reference: { x: empty },
        current: { x: normals },
        features: [{ name: 'x', kind: 'numeric' }],
      }),
    ).toThrow("driftReport: reference column 'x' has no finite values");
  });
});
