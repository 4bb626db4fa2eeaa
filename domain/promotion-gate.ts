import type { ClassificationMetrics } from './metrics';
import type { EvaluationPolicy } from './policy';

/**
 * Decides whether a freshly trained candidate may go on towards production,
 * from its hold-out metrics, the champion's on the same rows, and the
 * model's evaluation policy. Pure, so the workflow can call it directly and
 * its verdict is replayed exactly.
 */

export type GateDecision = 'pass' | 'fail';

export interface PromotionVerdict {
  readonly decision: GateDecision;
  /** Human-readable, with the numbers; the first reason is the deciding one. */
  readonly reasons: readonly string[];
  readonly metric: string;
  readonly candidate: number;
  readonly champion: number | null;
  /** candidate − champion; null when there is no champion. */
  readonly improvement: number | null;
}

// Metrics are ratios of counts, so a gain that "equals" minImprovement can be
// off by one ulp (0.87 − 0.86 = 0.010000000000000009). Comparisons forgive
// 1e-12, far below any difference one hold-out row can make.
const EPSILON = 1e-12;

/**
 * With no champion the candidate passes iff its metric reaches
 * policy.minAccuracy; with one, iff candidate − champion ≥ policy.minImprovement.
 *
 * @throws {Error} when a metric value is not finite
 * @example
 * promotionGate({ candidate: { accuracy: 0.912, logLoss: 0.3, positiveRate: 0.5, n: 500 },
 *   champion: { accuracy: 0.874, logLoss: 0.35, positiveRate: 0.5, n: 500 },
 *   policy: { metric: 'accuracy', minImprovement: 0.01, minAccuracy: 0.6 } });
 * // => { decision: 'pass', improvement: 0.038…,
 * //      reasons: ['candidate accuracy 0.912 vs champion 0.874: +0.038 ≥ required +0.010'], … }
 */
export function promotionGate(input: {
  candidate: ClassificationMetrics;
  champion: ClassificationMetrics | null;
  policy: EvaluationPolicy;
}): PromotionVerdict {
  const { policy } = input;
  const metric = policy.metric;
  const candidate = input.candidate[metric];
  if (!Number.isFinite(candidate)) {
    throw new Error(`promotionGate: candidate ${metric} is ${candidate}, not a finite number`);
  }

  if (input.champion === null) {
    const pass = candidate >= policy.minAccuracy - EPSILON;
    const digits = digitsToTell([[candidate, policy.minAccuracy]]);
    const [c, min] = [format(candidate, digits), format(policy.minAccuracy, digits)];
    return {
      decision: pass ? 'pass' : 'fail',
      reasons: [`no champion yet: candidate ${metric} ${c} ${pass ? '≥' : '<'} required minimum ${min}`],
      metric,
      candidate,
      champion: null,
      improvement: null,
    };
  }

  const champion = input.champion[metric];
  if (!Number.isFinite(champion)) {
    throw new Error(`promotionGate: champion ${metric} is ${champion}, not a finite number`);
  }
  const improvement = candidate - champion;
  const pass = improvement >= policy.minImprovement - EPSILON;
  const digits = digitsToTell([
    [candidate, champion],
    [improvement, policy.minImprovement],
  ]);
  const [c, ch] = [format(candidate, digits), format(champion, digits)];
  const [gain, required] = [format(improvement, digits, true), format(policy.minImprovement, digits, true)];
  return {
    decision: pass ? 'pass' : 'fail',
    reasons: [`candidate ${metric} ${c} vs champion ${ch}: ${gain} ${pass ? '≥' : '<'} required ${required}`],
    metric,
    candidate,
    champion,
    improvement,
  };
}

/**
 * How many decimals (3, or up to 6) the reason needs so that no pair of
 * numbers that differ prints the same: never "+0.010 < required +0.010".
 * One count for the whole reason, so its numbers stay consistent.
 */
function digitsToTell(pairs: readonly (readonly [number, number])[]): number {
  let digits = 3;
  const blurred = () =>
    pairs.some(([a, b]) => Math.abs(a - b) > EPSILON && format(a, digits) === format(b, digits));
  while (digits < 6 && blurred()) digits++;
  return digits;
}

function format(x: number, digits: number, signed = false): string {
  const text = x.toFixed(digits);
  return signed && x >= 0 ? `+${text}` : text;
}
