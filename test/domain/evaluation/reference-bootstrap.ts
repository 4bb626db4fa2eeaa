import {
  type BootstrapOptions,
  type PairedBootstrapResult,
  summariseResamples,
} from '../../../domain/evaluation/paired-bootstrap';
import type { RandomSource } from '../../../domain/random';

/**
 * The row resampling the gate used before `RowResampler` (commit 12561ce),
 * kept only as the reference the new one is checked against: every resample
 * draws n rows, row ⌊u·n⌋ for one `random()` each, in order. That stream is
 * what make_fixtures.py replays in numpy, so the Python replay vectors pin
 * this reference to the old implementation bit for bit. About 25 ns a row.
 */
export function referenceRowCounts(counts: Uint32Array, random: RandomSource): void {
  const n = counts.length;
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    counts[Math.floor(random() * n)]!++;
  }
}

/** The old row path of `pairedBootstrap`: a metric of weighted rows, resampled by `referenceRowCounts`. */
export function referenceRowBootstrap(
  n: number,
  difference: (counts: Uint32Array) => number,
  options: BootstrapOptions,
): PairedBootstrapResult {
  const counts = new Uint32Array(n).fill(1);
  return summariseResamples(difference(counts), options, () => {
    referenceRowCounts(counts, options.random);
    return difference(counts);
  });
}

/** The old row path of `pairedBootstrapMeanDifference` (its `compress: false`). */
export function referenceMeanDifference(
  diffs: ArrayLike<number>,
  options: BootstrapOptions,
): PairedBootstrapResult {
  const n = diffs.length;
  const weightedMean = (counts: Uint32Array) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += counts[i]! * diffs[i]!;
    return sum / n;
  };
  return referenceRowBootstrap(n, weightedMean, options);
}
