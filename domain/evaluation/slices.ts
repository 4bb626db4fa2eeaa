import { formatSigned, formatValue } from './gate-format';
import { metricValue, orient } from './paired-metrics';
import type { EvaluationGatePolicy, EvaluationMetric } from './policy';

/**
 * Segment checks: the candidate must not buy its overall gain by getting
 * worse on one group of users. Rows are grouped by the values of one segment
 * column and the primary metric is compared within each group.
 *
 * A segment regresses when its point estimate of the improvement is below
 * −margin. Not a significance test, on purpose: segments are many and small,
 * a test per segment would either miss real regressions (small groups never
 * reach significance) or need a multiple-comparison correction that makes
 * the check toothless; a point-estimate margin with `minRows` is the usual
 * slice check (TFMA-style) and errs on the side of not promoting.
 */

export interface SliceResult {
  readonly column: string;
  readonly value: string;
  readonly rows: number;
  readonly metric: EvaluationMetric;
  readonly candidate: number | null;
  readonly champion: number | null;
  /** Oriented: positive means the candidate is better on this segment. */
  readonly improvement: number | null;
  readonly margin: number;
  readonly status: 'ok' | 'regressed' | 'skipped';
  readonly reason: string;
}

const EPSILON = 1e-12;

/**
 * The primary metric per value of `spec.column`, values in sorted order.
 *
 * @throws {Error} when the column is not among the segments or has the wrong length
 * @example
 * checkSlices({ yTrue, candidate, champion, segments: { region: regions } }, policy,
 *   { column: 'region', margin: 0.03, minRows: 30 });
 * // => [{ value: 'eu', rows: 412, improvement: -0.05, status: 'regressed',
 * //       reason: 'slice region=eu (412 rows): accuracy 0.7800 vs champion 0.8300, -0.0500 beyond margin 0.0300' }, …]
 */
export function checkSlices(
  input: {
    readonly yTrue: ArrayLike<number>;
    readonly candidate: ArrayLike<number>;
    readonly champion: ArrayLike<number>;
    readonly segments?: Readonly<Record<string, ArrayLike<string | number>>>;
  },
  policy: Pick<EvaluationGatePolicy, 'primaryMetric' | 'threshold'>,
  spec: { readonly column: string; readonly margin: number; readonly minRows: number },
): SliceResult[] {
  const { yTrue, candidate, champion } = input;
  const column = input.segments?.[spec.column];
  if (column === undefined) {
    const given = Object.keys(input.segments ?? {}).join(', ') || 'none';
    throw new Error(
      `evaluationGate: slice column '${spec.column}' is not among the segments (given: ${given})`,
    );
  }
  if (column.length !== yTrue.length) {
    throw new Error(
      `evaluationGate: segment '${spec.column}' has ${column.length} values for ${yTrue.length} rows`,
    );
  }
  const groups = new Map<string, number[]>();
  for (let i = 0; i < column.length; i++) {
    const key = String(column[i]);
    const rows = groups.get(key);
    if (rows === undefined) groups.set(key, [i]);
    else rows.push(i);
  }
  const metric = policy.primaryMetric;
  return [...groups.keys()].sort().map((value): SliceResult => {
    const rows = groups.get(value)!;
    const label = `slice ${spec.column}=${value} (${rows.length} rows)`;
    const base = { column: spec.column, value, rows: rows.length, metric, margin: spec.margin };
    const skipped = (why: string): SliceResult => ({
      ...base,
      candidate: null,
      champion: null,
      improvement: null,
      status: 'skipped',
      reason: `${label}: not judged, ${why}`,
    });
    if (rows.length < spec.minRows) return skipped(`fewer than ${spec.minRows} rows`);
    const y = gather(yTrue, rows);
    if (metric === 'rocAuc' && (y.every((v) => v === 1) || y.every((v) => v === 0))) {
      return skipped('only one class, so no AUC');
    }
    const candidateValue = metricValue(metric, y, gather(candidate, rows), policy.threshold);
    const championValue = metricValue(metric, y, gather(champion, rows), policy.threshold);
    const improvement = orient(metric, candidateValue, championValue);
    const regressed = improvement < -spec.margin - EPSILON;
    return {
      ...base,
      candidate: candidateValue,
      champion: championValue,
      improvement,
      status: regressed ? 'regressed' : 'ok',
      reason:
        `${label}: ${metric} ${formatValue(candidateValue)} vs champion ${formatValue(championValue)}, ` +
        `${formatSigned(improvement)} ${regressed ? 'beyond' : 'within'} margin ${formatValue(spec.margin)}`,
    };
  });
}

function gather(values: ArrayLike<number>, rows: readonly number[]): Float64Array {
  const out = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) out[k] = values[rows[k]!]!;
  return out;
}
