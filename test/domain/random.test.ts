import { mean, standardDeviation } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { normalSample, seededRandom, Xorshift128 } from '../../domain/random';

describe('seededRandom', () => {
  // Reference values from a direct Python port of mulberry32 (ints masked to 32 bits):
  //   s=(s+0x6d2b79f5)&M; t=s; t=imul(t^(t>>15),t|1); t^=(t+imul(t^(t>>7),t|61))&M; ((t^(t>>14))&M)/2**32
  it.each([
    [42, [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]],
    [0, [0.26642920868471265, 0.0003297457005828619, 0.2232720274478197]],
    [-1, [0.8964226141106337, 0.189478256739676, 0.7156526781618595]],
  ])('seed %i yields the mulberry32 reference stream', (seed, expected) => {
    const rand = seededRandom(seed);
    expect([rand(), rand(), rand()]).toEqual(expected);
  });

  it('repeats the stream for the same seed and differs across seeds', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const streamA = Array.from({ length: 100 }, a);
    expect(Array.from({ length: 100 }, b)).toEqual(streamA);
    expect(Array.from({ length: 100 }, c)).not.toEqual(streamA);
  });

  it('stays in [0, 1) and is roughly uniform', () => {
    const rand = seededRandom(123);
    const draws = Array.from({ length: 20_000 }, rand);
    expect(draws.every((u) => u >= 0 && u < 1)).toBe(true);
    // Uniform(0,1): mean 1/2, sd 1/√12 ≈ 0.2887; the sample mean's sd is 0.002.
    expect(mean(draws)).toBeCloseTo(0.5, 1);
    expect(standardDeviation(draws)).toBeCloseTo(1 / Math.sqrt(12), 2);
  });

  it('rejects a non-integer seed', () => {
    expect(() => seededRandom(1.5)).toThrow('seededRandom: seed must be an integer');
  });
});

describe('normalSample', () => {
  it('draws from N(0, 1)', () => {
    const rand = seededRandom(2024);
    const draws = Array.from({ length: 20_000 }, () => normalSample(rand));
    // Sample mean sd = 1/√20000 ≈ 0.007; sample sd's sd ≈ 0.005.
    expect(Math.abs(mean(draws))).toBeLessThan(0.03);
    expect(Math.abs(standardDeviation(draws) - 1)).toBeLessThan(0.03);
    // About 95.45 % of N(0,1) lies within ±2.
    const within2 = draws.filter((z) => Math.abs(z) < 2).length / draws.length;
    expect(within2).toBeGreaterThan(0.945);
    expect(within2).toBeLessThan(0.964);
  });

  it('is finite even when the source returns 0', () => {
    expect(Number.isFinite(normalSample(() => 0))).toBe(true);
  });
});

describe('Xorshift128', () => {
  // Reference words from a Python port: state = four mulberry32 draws × 2^32, then
  //   t=(x^(x<<11))&M; x,y,z=y,z,w; w=(w^(w>>19)^(t^(t>>8)))&M
  it.each([
    [1, [1684642328, 4262357597, 1335806187]],
    [42, [1031745712, 1452004334, 1428506317]],
  ])('seeded from seededRandom(%i) yields the xor128 reference stream', (seed, expected) => {
    const words = new Xorshift128(seededRandom(seed));
    expect([words.nextUint32(), words.nextUint32(), words.nextUint32()]).toEqual(expected);
  });

  it('leaves the all-zero state, the fixed point of the recurrence', () => {
    const words = new Xorshift128(() => 0);
    const stream = Array.from({ length: 5 }, () => words.nextUint32());
    expect(stream.some((w) => w !== 0)).toBe(true);
  });

  it('gives unsigned 32-bit words with uniform halves', () => {
    const words = new Xorshift128(seededRandom(9));
    const buckets = new Float64Array(16);
    const draws = 64_000;
    for (let i = 0; i < draws; i++) {
      const w = words.nextUint32();
      expect(Number.isInteger(w) && w >= 0 && w < 2 ** 32).toBe(true);
      buckets[(w >>> 16) & 15]!++;
    }
    let statistic = 0;
    for (const observed of buckets) statistic += (observed - draws / 16) ** 2 / (draws / 16);
    // chi2(15): upper 1e-4 tail ≈ 42.
    expect(statistic).toBeLessThan(42);
  });
});
