import { describe, expect, it } from 'vitest';
import { parseDriftPolicy } from '../../../domain/drift/policy';
import { referenceSketch, SKETCH_RESOLUTION, sketchGap } from '../../../domain/drift/reference-sketch';
import {
  type ColumnarData,
  type DriftFeature,
  driftReport,
  type NumericFeatureDrift,
} from '../../../domain/drift/report';
import { decodeReferenceSketch, encodeReferenceSketch } from '../../../domain/drift/sketch-codec';
import { driftReportAgainstSketch, sketchServes } from '../../../domain/drift/sketch-drift';
import { normalSample, seededRandom } from '../../../domain/random';

/**
 * The sketch's tolerances against the exact computation (driftReport on the
 * whole reference), on seeded data:
 * - PSI, its bins and both sides' counts: equal, bit for bit (bins dividing K);
 * - KS D: exact D ∈ [statistic, statisticUpperBound], and the bound is at
 *   most 1/K + 2/n above the statistic (K = 2,000: 5e-4 and a hair);
 * - a sample of ≤ 10,000 finite values is stored whole: the report is equal.
 */

const column = (seed: number, n: number, draw: (rand: () => number) => number) => {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: n }, () => draw(rand));
};
const normal =
  (mean = 0, sd = 1) =>
  (rand: () => number) =>
    mean + sd * normalSample(rand);

function expectWithinTolerance(reference: ColumnarData, current: ColumnarData, policyInput = {}) {
  const features: DriftFeature[] = Object.keys(reference).map((name) => ({
    name,
    kind: reference[name] instanceof Float64Array ? 'numeric' : 'categorical',
  }));
  const policy = parseDriftPolicy(policyInput);
  const exact = driftReport({ reference, current, features, policy });
  const sketch = decodeReferenceSketch(encodeReferenceSketch(referenceSketch(reference, features)));
  expect(sketchServes(sketch, features, policy)).toBe(true);
  const sketched = driftReportAgainstSketch({ sketch, current, features, policy });
  exact.features.forEach((e, i) => {
    const s = sketched.features[i]!;
    expect(s.psi).toBe(e.psi);
    expect(s.reference).toEqual(e.reference);
    expect(s.current).toEqual(e.current);
    if (e.kind !== 'numeric' || s.kind !== 'numeric') {
      expect(s).toEqual(e);
      return;
    }
    expect(s.bins).toEqual(e.bins);
    const f = sketch.features.get(e.name)!;
    if (f.kind === 'numeric' && f.sorted.length > 0) {
      expect(s).toEqual(e); // stored whole: the exact computation
      return;
    }
    const upper = (s as NumericFeatureDrift).statisticUpperBound!;
    expect(s.statistic).toBeLessThanOrEqual(e.statistic);
    expect(e.statistic).toBeLessThanOrEqual(upper);
    expect(upper - s.statistic).toBeLessThanOrEqual(1 / SKETCH_RESOLUTION + 2 / e.reference.count + 1e-15);
  });
  return { exact, sketched, sketch };
}

describe('reference sketch', () => {
  it('gives exact PSI and KS within 1/K + 2/n on seeded normal columns, shifted or not', () => {
    const n = 60_000;
    const reference = {
      a: column(1, n, normal()),
      b: column(2, n, normal()),
      c: column(3, n, normal(10, 3)),
    };
    const current = {
      a: column(4, 45_000, normal()),
      b: column(5, 45_000, normal(0.05, 1.3)),
      c: column(6, 45_000, normal(10.5, 3)),
    };
    const { exact, sketched } = expectWithinTolerance(reference, current);
    expect(sketched.verdict.drifted).toBe(exact.verdict.drifted);
    expect(sketched.features.map((f) => f.drifted)).toEqual(exact.features.map((f) => f.drifted));
  });

  it.each([
    ['constant reference', () => new Float64Array(20_000).fill(5), () => column(7, 15_000, normal(5))],
    ['constant both', () => new Float64Array(20_000).fill(-3), () => new Float64Array(12_000).fill(-3)],
    [
      'integers 0..5 (heavy ties)',
      () => column(8, 50_000, (r) => Math.floor(r() * 6)),
      () => column(9, 30_000, (r) => Math.floor(r() * 7)),
    ],
    [
      'NaN, ±Infinity among the cells',
      () =>
        column(10, 40_000, (r) => {
          const u = r();
          return u < 0.2 ? Number.NaN : u < 0.25 ? Number.POSITIVE_INFINITY : u < 0.3 ? -Infinity : u;
        }),
      () => column(11, 30_000, (r) => (r() < 0.5 ? Number.NaN : r())),
    ],
    [
      'huge magnitudes (±1e300)',
      () => column(12, 30_000, (r) => normalSample(r) * 1e300),
      () => column(13, 20_000, (r) => normalSample(r) * 1.1e300),
    ],
    [
      'heavy tails (Cauchy) and -0 / +0',
      () => column(14, 30_000, (r) => (r() < 0.1 ? -0 : Math.tan(Math.PI * (r() - 0.5)))),
      () => column(15, 25_000, (r) => (r() < 0.1 ? 0 : 2 * Math.tan(Math.PI * (r() - 0.5)))),
    ],
    [
      'current outside the reference range',
      () => column(16, 20_000, normal()),
      () => column(17, 500, normal(50)),
    ],
    ['tiny current batch (3 values)', () => column(18, 30_000, normal()), () => Float64Array.of(0.1, -2, 7)],
  ])('stays within tolerance: %s', (_name, makeReference, makeCurrent) => {
    expectWithinTolerance({ x: makeReference() }, { x: makeCurrent() });
  });

  it.each([
    ['tiny samples', Float64Array.of(1, 2, 2, 3), Float64Array.of(2, 3, 3, 4, 9)],
    ['one value', Float64Array.of(4), Float64Array.of(4, 5)],
    [
      '10,000 values (the largest stored whole)',
      column(19, 10_000, normal()),
      column(20, 9_000, normal(0.1)),
    ],
  ])('stores a small sample whole and equals the exact report: %s', (_name, reference, current) => {
    const { exact, sketched, sketch } = expectWithinTolerance({ x: reference }, { x: current });
    expect(sketched).toEqual(exact);
    expect(sketchGap(sketch.features.get('x') as never)).toBe(0);
  });

  it('keeps categorical features exact (counts, order of first appearance, unseen categories)', () => {
    const reference = { plan: ['a', 'b', null, 'a', 'c', 'b', 'a'], x: column(21, 12_000, normal()) };
    const current = { plan: ['b', 'd', 'a', null, null, 'd'], x: column(22, 11_000, normal(0.2)) };
    const { exact, sketched } = expectWithinTolerance(reference, current);
    expect(sketched.features[0]).toEqual(exact.features[0]);
  });

  it('gives exact PSI for other bin counts that divide K, and refuses those that do not', () => {
    const reference = { x: column(23, 40_000, normal()) };
    const current = { x: column(24, 40_000, normal(0.1)) };
    expectWithinTolerance(reference, current, { bins: 20 });
    expectWithinTolerance(reference, current, { bins: 1000 });
    const features: DriftFeature[] = [{ name: 'x', kind: 'numeric' }];
    const sketch = referenceSketch(reference, features);
    expect(sketchServes(sketch, features, parseDriftPolicy({ bins: 3 }))).toBe(false);
    expect(sketchServes(sketch, [{ name: 'y', kind: 'numeric' }], parseDriftPolicy({}))).toBe(false);
    expect(sketchServes(sketch, [{ name: 'x', kind: 'categorical' }], parseDriftPolicy({}))).toBe(false);
  });

  it('refuses when a PSI edge overflows (values near ±1.8e308): the caller reads the reference', () => {
    // The type 7 interpolation a + f·(b − a) overflows when b − a > 1.8e308: the exact edge is
    // ±Infinity, which no sketch point can stand for.
    const features: DriftFeature[] = [{ name: 'x', kind: 'numeric' }];
    // 10,001 × -1.7e308 then 10,000 × 1.7e308: the median sits at index 10,000, a + 0·∞ = NaN.
    const x = Float64Array.from({ length: 20_001 }, (_, i) => (i <= 10_000 ? -1.7e308 : 1.7e308));
    expect(sketchServes(referenceSketch({ x }, features), features, parseDriftPolicy({}))).toBe(false);
  });

  it('refuses a column without finite values, as the report does', () => {
    expect(() =>
      referenceSketch({ x: Float64Array.of(Number.NaN, Number.POSITIVE_INFINITY) }, [
        { name: 'x', kind: 'numeric' },
      ]),
    ).toThrow("referenceSketch: column 'x' has no finite values");
    const sketch = referenceSketch({ x: column(25, 20_000, normal()) }, [{ name: 'x', kind: 'numeric' }]);
    expect(() =>
      driftReportAgainstSketch({
        sketch,
        current: { x: Float64Array.of(Number.NaN) },
        features: [{ name: 'x', kind: 'numeric' }],
      }),
    ).toThrow("driftReport: current column 'x' has no finite values");
  });

  it('is about 32 KB a numeric feature and round-trips through its bytes', () => {
    const features: DriftFeature[] = [{ name: 'x', kind: 'numeric' }];
    const sketch = referenceSketch({ x: column(26, 100_000, normal()) }, features);
    const bytes = encodeReferenceSketch(sketch);
    expect(bytes.length).toBeLessThan(70_000);
    expect(decodeReferenceSketch(bytes)).toEqual(sketch);
    expect(() => decodeReferenceSketch(new Uint8Array(20))).toThrow('not a ctloop reference sketch');
  });
});
