import { toCsv } from './csv';
import { normalSample, seededRandom } from './random';

/**
 * A synthetic binary-classification dataset, so demos and tests run the loop
 * on data with known structure: a fixed true weight vector, a knob for
 * concept drift and knobs for the two commonest data faults (missing cells,
 * wrong labels).
 */

export interface SyntheticDataOptions {
  readonly rows: number;
  readonly seed: number;
  /** Number of features, named x1..xn. Default 4. */
  readonly features?: number;
  /**
   * Concept drift. Adds `shift` to every feature's mean AND moves the true
   * decision boundary with the data, so P(label | x) changes: a model fitted
   * before the shift misplaces its boundary afterwards. Default 0.
   */
  readonly shift?: number;
  /**
   * Share of positive labels recorded as 0 (missed positives: fraud not yet
   * reported, churn not yet observed), 0..1. Default 0. One-directional on
   * purpose: symmetric flipping leaves the logistic boundary where it is
   * (P(y|x) is only flattened towards 0.5), so it would not make a model
   * trained on it worse in the way a real labelling fault does.
   */
  readonly labelNoise?: number;
  /** Share of feature cells left empty, 0..1. Default 0. */
  readonly nullRate?: number;
}

// The true direction. Mixed signs keep Σw moderate relative to ‖w‖: under a
// shift s the pre-shift model's logit is off by s·Σw/‖w‖ (in units of the
// true score's sd), which is what makes the drift hurt but not annihilate it.
const TRUE_WEIGHTS = [1.0, -0.9, 0.6, 0.3, -0.5, 0.8, 0.4, -0.2];
// Logit = SHARPNESS × (standardised true score); 4 puts the Bayes accuracy
// near 0.87, so a good model scores ~0.85-0.9 and a bad one visibly less.
const SHARPNESS = 4;

/**
 * Generates rows as CSV text with columns x1..xn,label. Features are
 * independent N(shift, 1); the label is Bernoulli(σ(k·w·(x − shift)/‖w‖)),
 * then positives are flipped to 0 with probability labelNoise, then feature
 * cells are emptied with probability nullRate. Same options, same text.
 *
 * @throws {Error} when rows or features are not positive integers or a rate is outside [0, 1]
 * @example
 * generateDataset({ rows: 3, seed: 7 }).split('\n')[0]; // => 'x1,x2,x3,x4,label'
 */
export function generateDataset(opts: SyntheticDataOptions): string {
  const { rows, seed, features = 4, shift = 0, labelNoise = 0, nullRate = 0 } = opts;
  if (!Number.isInteger(rows) || rows < 1) {
    throw new Error(`generateDataset: rows must be a positive integer, got ${rows}`);
  }
  if (!Number.isInteger(features) || features < 1) {
    throw new Error(`generateDataset: features must be a positive integer, got ${features}`);
  }
  if (!Number.isFinite(shift)) {
    throw new Error(`generateDataset: shift must be a finite number, got ${shift}`);
  }
  for (const [name, rate] of [
    ['labelNoise', labelNoise],
    ['nullRate', nullRate],
  ] as const) {
    if (!(rate >= 0 && rate <= 1)) throw new Error(`generateDataset: ${name} must be in [0, 1], got ${rate}`);
  }

  const weights = trueWeights(features);
  const norm = Math.hypot(...weights);
  const rand = seededRandom(seed);
  const columns = [...weights.map((_, j) => `x${j + 1}`), 'label'];
  const out: (number | null)[][] = [];
  for (let i = 0; i < rows; i++) {
    const x = weights.map(() => shift + normalSample(rand));
    const score = weights.reduce((s, w, j) => s + w * (x[j]! - shift), 0) / norm;
    let label = rand() < sigmoid(SHARPNESS * score) ? 1 : 0;
    // Draw every uniform whatever its outcome, so the stream (and thus the
    // features of later rows) does not depend on the noise settings.
    if (rand() < labelNoise) label = 0;
    const cells = x.map((v) => (rand() < nullRate ? null : round(v)));
    out.push([...cells, label]);
  }
  return toCsv(columns, out);
}

function trueWeights(count: number): number[] {
  // Beyond the listed ones, weights repeat at half strength.
  return Array.from({ length: count }, (_, j) => {
    const base = TRUE_WEIGHTS[j % TRUE_WEIGHTS.length]!;
    return j < TRUE_WEIGHTS.length ? base : base / 2;
  });
}

/** Six decimals keep files small and readable; far finer than the noise. */
function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function sigmoid(t: number): number {
  return 1 / (1 + Math.exp(-t));
}
