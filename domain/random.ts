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
