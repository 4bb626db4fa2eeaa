import { describe, expect, it } from 'vitest';
import { radixSortFinite } from '../../../domain/drift/radix-sort';
import { countAtMost, finiteSorted, sortAscending } from '../../../domain/drift/sample';
import { normalSample, seededRandom } from '../../../domain/random';

const rand = seededRandom(17);
const n = 50_000;

/** Index of the first element that differs (by Object.is: -0 and +0 differ), or -1. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Values of every kind a radix key must order: signs, zeros of both signs, ties, subnormals, huge magnitudes. */
function anyFinite(): number {
  const u = rand();
  if (u < 0.05) return rand() < 0.5 ? -0 : 0;
  if (u < 0.1) return (rand() < 0.5 ? -1 : 1) * rand() * 2 ** -1074 * 2 ** 52; // subnormal
  if (u < 0.12) return rand() < 0.5 ? -Number.MIN_VALUE : Number.MIN_VALUE;
  if (u < 0.15) return (rand() < 0.5 ? -1 : 1) * Number.MAX_VALUE * rand();
  if (u < 0.3) return Math.round(normalSample(rand) * 3); // ties
  return normalSample(rand) * 10 ** Math.floor(rand() * 40 - 20);
}

describe('sortAscending', () => {
  // The bucketed sort must give exactly the native TypedArray order on the shapes a
  // feature column takes: smooth, tied, skewed, narrow, with outliers, already sorted.
  it.each([
    ['normal', () => normalSample(rand)],
    ['rounded (ties)', () => Math.round(normalSample(rand) * 10) / 10],
    ['three values', () => Math.floor(rand() * 3)],
    ['log-normal (skewed)', () => Math.exp(3 * normalSample(rand))],
    ['range of 1e-12', () => 1 + rand() * 1e-12],
    ['rare huge outliers', () => (rand() < 1e-4 ? 1e300 : rand())],
    ['subnormal range', () => rand() * 1e-310],
    ['sign mix with zeros', () => (rand() < 0.3 ? 0 : normalSample(rand) * 1e6)],
  ])('%s: same order as the native sort', (_name, draw) => {
    const values = Float64Array.from({ length: n }, draw);
    const expected = values.slice().sort();
    expect(firstDifference(sortAscending(values.slice()), expected)).toBe(-1);
  });

  it.each([
    ['every kind of finite value', 50_000, anyFinite],
    ['zeros of both signs only', 10_000, () => (rand() < 0.5 ? -0 : 0)],
    ['zeros among normals', 50_000, () => (rand() < 0.2 ? (rand() < 0.5 ? -0 : 0) : normalSample(rand))],
  ])('%s: same order as the native sort, -0 before +0', (_name, size, draw) => {
    const values = Float64Array.from({ length: size }, draw);
    expect(firstDifference(sortAscending(values.slice()), values.slice().sort())).toBe(-1);
  });

  it.each([4096, 4097, 16_383, 70_001, 356_000])(
    '%i normal values: same order as the native sort',
    (size) => {
      const values = Float64Array.from({ length: size }, () => Math.round(normalSample(rand) * 1e6) / 1e6);
      expect(firstDifference(sortAscending(values.slice()), values.slice().sort())).toBe(-1);
    },
  );

  it('sorts an already sorted and a reversed column', () => {
    const up = Float64Array.from({ length: n }, (_, i) => i);
    expect(firstDifference(sortAscending(up.slice()), up)).toBe(-1);
    expect(firstDifference(sortAscending(up.slice().reverse()), up)).toBe(-1);
  });
});

describe('radixSortFinite', () => {
  // Float64Array.prototype.sort is the reference order (numeric, -0 before +0).
  it.each([
    ['every kind of finite value', 100_000, anyFinite],
    ['negatives only', 20_000, () => -Math.exp(10 * normalSample(rand))],
    ['subnormals only', 20_000, () => (rand() - 0.5) * 2 ** -1030],
    ['huge magnitudes', 20_000, () => (rand() - 0.5) * Number.MAX_VALUE],
    ['one value repeated', 5_000, () => -2.5],
    ['two values', 5_000, () => (rand() < 0.5 ? -0 : 1e-300)],
  ])('%s: same order as the native sort', (_name, size, draw) => {
    const values = Float64Array.from({ length: size }, draw);
    const expected = values.slice().sort();
    expect(firstDifference(radixSortFinite(values), expected)).toBe(-1);
  });

  it('sorts a subarray in place and leaves the rest of its buffer alone', () => {
    const values = Float64Array.of(9, 3, -1, -0, 0, 2, -7);
    radixSortFinite(values.subarray(1, 6));
    expect([...values].map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual([9, -1, '-0', 0, 2, 3, -7]);
    expect([...radixSortFinite(new Float64Array(0))]).toEqual([]);
    expect([...radixSortFinite(Float64Array.of(4))]).toEqual([4]);
  });
});

describe('finiteSorted', () => {
  it('keeps finite values sorted and counts the rest as missing', () => {
    const r = finiteSorted([3, null, 1, Number.NaN, 2, Number.POSITIVE_INFINITY]);
    expect(r.sorted).toEqual(Float64Array.of(1, 2, 3));
    expect(r.missing).toBe(3);
    expect(finiteSorted(Float64Array.of(2, Number.NEGATIVE_INFINITY, 1)).sorted).toEqual(
      Float64Array.of(1, 2),
    );
  });

  it('does not modify its input', () => {
    const input = Float64Array.of(3, 1, 2);
    finiteSorted(input);
    expect(input).toEqual(Float64Array.of(3, 1, 2));
  });
});

describe('countAtMost', () => {
  it.each([
    [0, 0],
    [1, 1],
    [2, 3],
    [2.5, 3],
    [9, 4],
  ])('counts values ≤ %f: %i', (x, expected) => {
    expect(countAtMost(Float64Array.of(1, 2, 2, 3), x)).toBe(expected);
  });
});
