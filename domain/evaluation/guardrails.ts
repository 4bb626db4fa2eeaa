import { formatInterval, formatSigned, formatValue } from './gate-format';
import type { PairedBootstrapResult } from './paired-bootstrap';
import { type Direction, METRIC_DIRECTION, metricValue, orient } from './paired-metrics';
import type { EvaluationMetric } from './policy';

/**
 * Guardrails: metrics the candidate may not make worse by more than a
 * margin, while it improves the primary one. "Not worse" has to be shown,
 * not assumed: the lower bound of the paired bootstrap interval of the
 * improvement must lie above −margin (a non-inferiority test at α/2,
 * one-sided). A small hold-out set with a wide interval therefore fails the
 * guardrail rather than waving the candidate through.
 * Reference: https://en.wikipedia.org/wiki/Equivalence_test (non-inferiority margins)
 */

export interface GuardrailResult {
  readonly metric: EvaluationMetric;
  readonly direction: Direction;
  readonly candidate: number;
  readonly champion: number;
  /** Oriented: positive means the candidate is better. */
  readonly improvement: number;
  readonly margin: number;
  /** Paired bootstrap interval of the improvement. */
  readonly interval: PairedBootstrapResult;
  readonly breached: boolean;
  readonly reason: string;
}

/**
 * @example
 * checkGuardrail({ metric: 'logLoss', margin: 0.02 }, rows, 0.5, (m) => improvementInterval(m, rows, options));
 * // => { breached: true, reason: 'guardrail logLoss: candidate 1.0119 vs champion 0.4487 (lower is better),
 * //      improvement -0.5632; 95% CI [-0.6256, -0.5020] not above -0.0200 (margin 0.0200): not shown non-inferior', … }
 */
export function checkGuardrail(
  guardrail: { readonly metric: EvaluationMetric; readonly margin: number },
  rows: {
    readonly yTrue: ArrayLike<number>;
    readonly candidate: ArrayLike<number>;
    readonly champion: ArrayLike<number>;
  },
  threshold: number,
  improvementInterval: (metric: EvaluationMetric) => PairedBootstrapResult,
): GuardrailResult {
  const { metric, margin } = guardrail;
  const direction = METRIC_DIRECTION[metric];
  const interval = improvementInterval(metric);
  const candidate = metricValue(metric, rows.yTrue, rows.candidate, threshold);
  const champion = metricValue(metric, rows.yTrue, rows.champion, threshold);
  const improvement = orient(metric, candidate, champion);
  const breached = !(interval.lower > -margin);
  const level = `${Math.round(100 * (1 - interval.alpha))}%`;
  const reason =
    `guardrail ${metric}: candidate ${formatValue(candidate)} vs champion ${formatValue(champion)}` +
    `${direction === 'lower' ? ' (lower is better)' : ''}, improvement ${formatSigned(improvement)}; ` +
    `${level} CI ${formatInterval(interval)} ${breached ? 'not above' : 'above'} ${formatSigned(-margin)} ` +
    `(margin ${formatValue(margin)}): ${breached ? 'not shown non-inferior' : 'non-inferior'}`;
  return { metric, direction, candidate, champion, improvement, margin, interval, breached, reason };
}
