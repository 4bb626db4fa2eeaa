import { describe, expect, it } from 'vitest';
import { countAtMost, finiteSorted, sortAscending } from '../../../domain/drift/sample';
import { normalSample, seededRandom } from '../../../domain/random';

const rand = seededRandom(17);
const n = 50_000;

/** Index of the first element that differs (-0 and +0 count as equal), or -1. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
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

  it('sorts an already sorted and a reversed column', () => {
    const up = Float64Array.from({ length: n }, (_, i) => i);
    expect(firstDifference(sortAscending(up.slice()), up)).toBe(-1);
    expect(firstDifference(sortAscending(up.slice().reverse()), up)).toBe(-1);
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
