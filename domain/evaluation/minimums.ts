import { formatValue } from './gate-format';
import { type Direction, METRIC_DIRECTION, metricValue } from './paired-metrics';
import type { EvaluationMetric } from './policy';

/**
 * Absolute thresholds for the first model, when there is no champion to
 * compare with: at least `required` for higher-is-better metrics, at most
 * `required` for lower-is-better ones. Point estimates, as the promotion
 * gate has always done; the gain over a champion is where statistics decide.
 */

export interface MinimumResult {
  readonly metric: EvaluationMetric;
  readonly direction: Direction;
  /** At least this when higher is better, at most this when lower is. */
  readonly required: number;
  readonly candidate: number;
  readonly met: boolean;
  readonly reason: string;
}

// Metrics are ratios of counts: a value that "equals" the minimum can be one ulp short.
const EPSILON = 1e-12;

/**
 * @example
 * checkMinimums({ accuracy: 0.7, logLoss: 0.6 }, yTrue, candidate, 0.5);
 * // => [{ metric: 'accuracy', met: true, reason: 'no champion yet: candidate accuracy 0.8200 ≥ required minimum 0.7000', … },
 * //     { metric: 'logLoss', met: true, reason: 'no champion yet: candidate logLoss 0.3997 ≤ required maximum 0.6000', … }]
 */
export function checkMinimums(
  minimums: Partial<Record<EvaluationMetric, number>>,
  yTrue: ArrayLike<number>,
  candidate: ArrayLike<number>,
  threshold: number,
): MinimumResult[] {
  return (Object.entries(minimums) as [EvaluationMetric, number][]).map(([metric, required]) => {
    const direction = METRIC_DIRECTION[metric];
    const value = metricValue(metric, yTrue, candidate, threshold);
    const met = direction === 'higher' ? value >= required - EPSILON : value <= required + EPSILON;
    const relation = direction === 'higher' ? (met ? '≥' : '<') : met ? '≤' : '>';
    const bound = direction === 'higher' ? 'minimum' : 'maximum';
    const reason = `no champion yet: candidate ${metric} ${formatValue(value)} ${relation} required ${bound} ${formatValue(required)}`;
    return { metric, direction, required, candidate: value, met, reason };
  });
}
