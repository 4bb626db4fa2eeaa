import { z } from 'zod';
import { DAY, inRange, seconds, share } from '../policy-bounds';

/**
 * Performance alarms: production metrics (accuracy from delayed labels, AUC,
 * RMSE, …) that, beyond a threshold for long enough, ask for a retrain.
 * Every field but `threshold` has a default, and the section defaults to no
 * monitored metric, so policies written before it keep their meaning.
 */

/** Metric names as senders write them: `accuracy`, `auc`, `rmse`, `f1@segment`, `precision.top-10`. */
export const METRIC_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.@-]{0,63}$/;

export const metricName = z
  .string()
  .regex(METRIC_NAME_PATTERN, 'metric names are letters, digits, "_", ".", "@" or "-" (at most 64)');

export const metricAlarmRuleSchema = z.object({
  /** The value the metric must not cross. */
  threshold: z.number(),
  /**
   * `below`: higher is better (accuracy, AUC) and the alarm is for values under
   * the threshold; `above`: an error metric (RMSE, log loss), values over it.
   * A value equal to the threshold is never beyond it.
   */
  direction: z.enum(['below', 'above']).default('below'),
  /** The metric must stay beyond the threshold for this long (see `performanceAlarm`). */
  windowSeconds: seconds(1, 30 * DAY).default(3600),
  /** Qualifying points needed inside the window before the alarm can fire. */
  minPoints: inRange({ min: 1, max: 100_000, integer: true }).default(3),
  /** A point whose label coverage is below this is recorded but is not evidence. */
  minCoverage: share().default(0.2),
  enabled: z.boolean().default(true),
});

const MAX_METRICS = 100;

export const performancePolicySchema = z.object({
  /** Off: points are still recorded, nothing is judged. */
  enabled: z.boolean().default(true),
  metrics: z
    .record(metricName, metricAlarmRuleSchema)
    .refine((m) => Object.keys(m).length <= MAX_METRICS, {
      message: `must name at most ${MAX_METRICS} metrics`,
    })
    .default({}),
});

export type MetricAlarmRuleInput = z.input<typeof metricAlarmRuleSchema>;
export type MetricAlarmRule = z.output<typeof metricAlarmRuleSchema>;
export type PerformancePolicyInput = z.input<typeof performancePolicySchema>;
export type PerformancePolicy = z.output<typeof performancePolicySchema>;

/**
 * Parses a performance policy, filling every default; throws a ZodError naming the bad fields.
 *
 * @example
 * parsePerformancePolicy({ metrics: { accuracy: { threshold: 0.8 } } }).metrics.accuracy.minPoints; // => 3
 */
export function parsePerformancePolicy(input: unknown): PerformancePolicy {
  return performancePolicySchema.parse(input);
}
