/**
 * Rollback reasons as a metric label. The audit trail keeps the full text
 * (verdict lines, the operator's own words); a label must come from a small
 * fixed set, or every rollback would start a new time series.
 */
export const ROLLBACK_REASONS = [
  'canary_failed',
  'canary_inconclusive',
  'operator',
  'bake_regression',
  'other',
] as const;
export type RollbackReason = (typeof ROLLBACK_REASONS)[number];

/** The actor ctloop itself records for automatic decisions. */
const SYSTEM_ACTOR = 'ctloop';

/**
 * Maps one `rollback` or `routing_restored` audit event to its label.
 *
 * The rollout words its reasons as `canary fail at 10 %: …`,
 * `canary inconclusive at 50 %: …` (or `inconclusive canary at 50 %: …` when
 * a person was asked and rejected, or nobody answered), `operator rollback
 * during canary: …` (an abort included), `rollback during bake: …` (a person
 * asked by name) and `regression during bake: …` (ctloop's own check; runs
 * recorded before that check word it `rollback during bake` with actor
 * `ctloop`). A `routing_restored` event is the clean-up after a run that
 * failed or was cancelled mid-canary: traffic went back to the champion, but
 * no verdict or person asked for it. The scrape reads only these two kinds:
 * the `promotion_undone` event beside a bake rollback would count it twice.
 *
 * @example
 * rollbackReasonLabel({ kind: 'rollback', actor: 'ctloop', reason: 'canary fail at 10 %: error rate' });
 * // => 'canary_failed'
 */
export function rollbackReasonLabel(event: {
  readonly kind: string;
  readonly actor: string;
  readonly reason: string | null;
}): RollbackReason {
  if (event.kind !== 'rollback') return 'other';
  const reason = (event.reason ?? '').trimStart().toLowerCase();
  if (reason.startsWith('canary fail')) return 'canary_failed';
  if (reason.startsWith('canary inconclusive') || reason.startsWith('inconclusive canary')) {
    return 'canary_inconclusive';
  }
  if (reason.startsWith('regression during bake')) return 'bake_regression';
  if (reason.startsWith('operator rollback')) return 'operator';
  if (reason.startsWith('rollback during bake')) {
    return event.actor === SYSTEM_ACTOR ? 'bake_regression' : 'operator';
  }
  return 'other';
}

/**
 * How many leading characters of a reason `rollbackReasonLabel` needs: the
 * scrape groups audit events by this prefix, so it reads a handful of rows
 * however many rollbacks there have been.
 */
export const ROLLBACK_REASON_PREFIX_CHARS = 24;
