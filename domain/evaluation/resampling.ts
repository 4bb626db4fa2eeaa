import { gammaln } from 'simple-statistics';
import { type RandomSource, Xorshift128 } from '../random';

/**
 * Drawing bootstrap resamples as counts. A resample of n rows with
 * replacement is fully described by how often each row was drawn, a
 * Multinomial(n; 1/n, …, 1/n) vector. Metrics then read the data once, in
 * order, weighting row i by its count: the same number as evaluating the
 * metric on the materialised resample, without building it (`RowResampler`).
 *
 * When the rows take only a few distinct "atoms" (the four cells of a paired
 * correctness table, the eight of a paired confusion matrix), the resample is
 * a Multinomial(n; f₁/n, …, f_k/n) over atoms, drawn by k − 1 conditional
 * binomials: O(k·√n) work per resample instead of O(n).
 * Reference: Efron & Tibshirani, An Introduction to the Bootstrap (1993), ch. 6;
 * https://en.wikipedia.org/wiki/Multinomial_distribution#Sampling_from_a_multinomial_distribution
 */

/**
 * Rows per block. A block of float64 values (512 KiB) stays in a core's L2
 * cache while it is sampled, and half of a 32-bit word picks one of its rows
 * exactly, with no rounding bias, so one word draws two rows.
 */
const BLOCK_BITS = 16;
const BLOCK_ROWS = 1 << BLOCK_BITS;
const LOW_HALF = BLOCK_ROWS - 1;
const TWO_32 = 4294967296;

/**
 * Draws resamples of n rows with replacement, each an exact
 * Multinomial(n; 1/n, …, 1/n) vector of draw counts, in two stages: the rows
 * are cut into blocks of 65,536 (the last one shorter), the n draws are split
 * among the blocks as one Multinomial(n; block size / n) (conditional
 * binomials, `resampleAtomCounts`), and each block's draws pick its rows
 * uniformly. A draw that lands in block b with probability size_b / n and
 * then on one of its size_b rows uniformly lands on any row with probability
 * 1/n, so the counts have exactly the distribution of n independent uniform
 * row draws; only the order of the work changes. That order is what makes it
 * fast: each block is read while it is in cache, and the words come from
 * `Xorshift128`, two row draws per word. `sum` scores a resample of a mean
 * without writing the counts at all.
 * Reference: Efron & Tibshirani, An Introduction to the Bootstrap (1993), ch. 6;
 * Lemire (2019), "Fast random integer generation in an interval", ACM TOMACS 29(1) (the last, shorter block).
 *
 * @throws {Error} when n is not a positive integer
 * @example
 * const resampler = new RowResampler(4, seededRandom(1));
 * const counts = new Uint32Array(4);
 * resampler.counts(counts); // counts sum to 4, e.g. [2, 0, 1, 1]
 * resampler.sum(Float64Array.from([1, 2, 3, 4])); // one resample's total, e.g. 9
 */
export class RowResampler {
  readonly n: number;
  private readonly words: Xorshift128;
  private readonly uniform: RandomSource;
  private readonly blockSizes: number[];
  private readonly blockCounts: Uint32Array;
  /** Rows in the last block when it is shorter than BLOCK_ROWS, else 0. */
  private readonly shortBlock: number;
  /** Lemire's rejection threshold for the short block: 2^32 mod its size. */
  private readonly shortThreshold: number;

  constructor(n: number, random: RandomSource) {
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`RowResampler: n must be a positive integer, got ${n}`);
    }
    this.n = n;
    this.words = new Xorshift128(random);
    this.uniform = () => this.words.nextUint32() / TWO_32;
    const full = Math.floor(n / BLOCK_ROWS);
    this.shortBlock = n - full * BLOCK_ROWS;
    this.shortThreshold = this.shortBlock === 0 ? 0 : TWO_32 % this.shortBlock;
    this.blockSizes = new Array<number>(full).fill(BLOCK_ROWS);
    if (this.shortBlock > 0) this.blockSizes.push(this.shortBlock);
    this.blockCounts = new Uint32Array(this.blockSizes.length);
  }

  /** Fills `counts` (length n) with the draw counts of the next resample. */
  counts(counts: Uint32Array): void {
    if (counts.length !== this.n) {
      throw new Error(`RowResampler: counts has length ${counts.length}, expected ${this.n}`);
    }
    counts.fill(0);
    this.splitAmongBlocks();
    const words = this.words;
    for (let b = 0; b < this.blockCounts.length; b++) {
      const drawn = this.blockCounts[b]!;
      const offset = b * BLOCK_ROWS;
      if (this.blockSizes[b] !== BLOCK_ROWS) {
        for (let k = 0; k < drawn; k++) counts[offset + this.shortBlockRow()]!++;
        continue;
      }
      const block = counts.subarray(offset, offset + BLOCK_ROWS);
      for (let k = drawn >>> 1; k > 0; k--) {
        const word = words.nextUint32();
        block[word & LOW_HALF]!++;
        block[word >>> BLOCK_BITS]!++;
      }
      if ((drawn & 1) === 1) block[words.nextUint32() & LOW_HALF]!++;
    }
  }

  /**
   * Σ counts[i]·values[i] for the next resample: the same draws, in the same
   * order, as `counts` would make, so the two agree on a seed.
   */
  sum(values: Float64Array): number {
    if (values.length !== this.n) {
      throw new Error(`RowResampler: values has length ${values.length}, expected ${this.n}`);
    }
    this.splitAmongBlocks();
    const words = this.words;
    let total = 0;
    for (let b = 0; b < this.blockCounts.length; b++) {
      const drawn = this.blockCounts[b]!;
      const offset = b * BLOCK_ROWS;
      if (this.blockSizes[b] !== BLOCK_ROWS) {
        let shortSum = 0;
        for (let k = 0; k < drawn; k++) shortSum += values[offset + this.shortBlockRow()]!;
        total += shortSum;
        continue;
      }
      const block = values.subarray(offset, offset + BLOCK_ROWS);
      // Two accumulators: one chain of dependent additions would be the bottleneck.
      let low = 0;
      let high = 0;
      for (let k = drawn >>> 1; k > 0; k--) {
        const word = words.nextUint32();
        low += block[word & LOW_HALF]!;
        high += block[word >>> BLOCK_BITS]!;
      }
      if ((drawn & 1) === 1) low += block[words.nextUint32() & LOW_HALF]!;
      total += low + high;
    }
    return total;
  }

  private splitAmongBlocks(): void {
    resampleAtomCounts(this.blockSizes, this.blockCounts, this.uniform);
  }

  /**
   * A uniform row of the short block, by Lemire's method: the high 32 bits of
   * word·size are uniform on [0, size) once the words whose low 32 bits fall
   * below 2^32 mod size are rejected (fewer than size in 2^32 of them).
   */
  private shortBlockRow(): number {
    for (;;) {
      const product = this.words.nextUint32() * this.shortBlock;
      const high = Math.floor(product / TWO_32);
      if (product - high * TWO_32 >= this.shortThreshold) return high;
    }
  }
}

/**
 * Fills `counts` with one Multinomial(total; frequencies / total) draw:
 * atom j gets Binomial(remaining, fⱼ / (fⱼ + … + f_k)) of what earlier atoms
 * left, the last atom the rest.
 *
 * @throws {Error} when a frequency is negative or not an integer, or none is positive
 * @example
 * const counts = new Uint32Array(3);
 * resampleAtomCounts([10, 80, 10], counts, seededRandom(1)); // counts => [7, 83, 10]
 */
export function resampleAtomCounts(
  frequencies: ArrayLike<number>,
  counts: Uint32Array,
  random: RandomSource,
): void {
  let rest = 0;
  for (let j = 0; j < frequencies.length; j++) {
    const f = frequencies[j]!;
    if (!Number.isInteger(f) || f < 0) {
      throw new Error(`resampleAtomCounts: frequencies[${j}] must be a non-negative integer, got ${f}`);
    }
    rest += f;
  }
  if (rest === 0) throw new Error('resampleAtomCounts: needs a positive frequency');
  let remaining = rest;
  for (let j = 0; j < frequencies.length; j++) {
    const f = frequencies[j]!;
    const drawn = rest === f ? remaining : binomialSample(remaining, f / rest, random);
    counts[j] = drawn;
    remaining -= drawn;
    rest -= f;
  }
}

/**
 * One Binomial(n, p) draw by inversion, searching outward from the mode
 * (mode, mode − 1, mode + 1, …) so that the expected work is O(√(np(1−p)))
 * terms, about 300 for a million rows. Any order of the outcomes is an exact
 * inversion; this one visits the likely ones first. The mode's probability
 * comes from log-gamma, the others from the ratio of neighbours.
 * Reference: Kachitvichyanukul & Schmeiser (1988), "Binomial random variate
 * generation", CACM 31(2), the inversion family.
 *
 * @throws {Error} when n is not a non-negative integer or p is outside [0, 1]
 * @example
 * binomialSample(1_000_000, 0.1, seededRandom(7)); // => 100004 (mean 100000, sd 300)
 */
export function binomialSample(n: number, p: number, random: RandomSource): number {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`binomialSample: n must be a non-negative integer, got ${n}`);
  if (!(p >= 0 && p <= 1)) throw new Error(`binomialSample: p must be in [0, 1], got ${p}`);
  if (n === 0 || p === 0) return 0;
  if (p === 1) return n;
  const q = 1 - p;
  const mode = Math.min(n, Math.floor((n + 1) * p));
  const modeProbability = Math.exp(
    gammaln(n + 1) -
      gammaln(mode + 1) -
      gammaln(n - mode + 1) +
      mode * Math.log(p) +
      (n - mode) * Math.log(q),
  );
  let u = random() - modeProbability;
  if (u < 0) return mode;
  let low = mode;
  let high = mode;
  let lowProbability = modeProbability;
  let highProbability = modeProbability;
  while (low > 0 || high < n) {
    if (low > 0) {
      lowProbability *= (low / (n - low + 1)) * (q / p);
      low--;
      u -= lowProbability;
      if (u < 0) return low;
    }
    if (high < n) {
      highProbability *= ((n - high) / (high + 1)) * (p / q);
      high++;
      u -= highProbability;
      if (u < 0) return high;
    }
    // Both tails are spent or underflowed: u is left over only by rounding (< 1e-12).
    if ((low === 0 || lowProbability === 0) && (high === n || highProbability === 0)) break;
  }
  return mode;
}
