import type { MetricAlarmRule } from './policy';

/** One recorded value of one metric. Times are epoch milliseconds. */
export interface MetricPoint {
  readonly observedAt: number;
  readonly value: number;
  /** Share of the predictions behind `value` that had a label; `null`: the sender did not say (taken as 1). */
  readonly coverage: number | null;
  readonly samples: number | null;
}

export type AlarmDecision = 'alarm' | 'ok' | 'insufficient';

export interface PerformanceAlarmResult {
  readonly decision: AlarmDecision;
  /** Why, in words, most important first. */
  readonly reasons: readonly string[];
  /** The newest qualifying point's time: the moment judged. */
  readonly asOf: number | null;
  readonly windowStart: number | null;
  /**
   * When the current run of beyond-threshold points began (its first point):
   * `null` when the newest point is within the threshold, or when the run
   * reaches past the points given (`ongoingBefore` says since when at least).
   */
  readonly episodeStart: number | null;
  readonly ongoingBefore: number | null;
  /** The qualifying points inside the window, oldest first. */
  readonly evidence: readonly MetricPoint[];
  readonly ignoredLowCoverage: number;
}

export interface AlarmOptions {
  /** Set when older points exist than those given (the caller read only the newest ones). */
  readonly truncated?: boolean;
}

const beyond = (rule: MetricAlarmRule, value: number) =>
  rule.direction === 'below' ? value < rule.threshold : value > rule.threshold;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Judges one metric's recorded points against its alarm rule.
 *
 * Definitions:
 * - A point qualifies when its label coverage is at least `minCoverage`
 *   (a point without coverage counts as fully covered); others are ignored.
 * - The metric is judged as of its newest qualifying point `t` (not the wall
 *   clock, so a backfill is judged at the time it describes). The window is
 *   the closed interval [t − windowSeconds, t].
 * - "Sustained" means the metric has been beyond the threshold at every
 *   qualifying point from some point at or before the window's start up to
 *   `t`: the run of beyond-threshold points ending at `t` began no later than
 *   t − windowSeconds. So the whole window is covered, and a single dip, or a
 *   drop younger than the window, is not sustained.
 * - It alarms when sustained and the window holds at least `minPoints`
 *   qualifying points. With fewer points it is `insufficient`; when the
 *   newest point is within the threshold, or the drop is not yet sustained,
 *   it is `ok`.
 *
 * @example
 * // accuracy 0.70, 0.71, 0.69 at 0, 30 and 60 s; threshold 0.8 below, window 60 s, 3 points
 * performanceAlarm(points, rule).decision; // => 'alarm'
 */
export function performanceAlarm(
  points: readonly MetricPoint[],
  rule: MetricAlarmRule,
  options: AlarmOptions = {},
): PerformanceAlarmResult {
  for (const p of points) {
    if (!Number.isFinite(p.value) || !Number.isFinite(p.observedAt)) {
      throw new Error('performanceAlarm: every point needs a finite value and time');
    }
  }
  const qualifying = points
    .filter((p) => (p.coverage ?? 1) >= rule.minCoverage)
    .sort((a, b) => a.observedAt - b.observedAt);
  const ignoredLowCoverage = points.length - qualifying.length;
  const ignored =
    ignoredLowCoverage > 0
      ? [`${ignoredLowCoverage} point(s) with label coverage below ${rule.minCoverage} are not evidence`]
      : [];
  const side = rule.direction === 'below' ? 'below' : 'above';
  const newest = qualifying[qualifying.length - 1];
  if (!newest) {
    return {
      decision: 'insufficient',
      reasons: [`no point with label coverage ≥ ${rule.minCoverage}`, ...ignored],
      asOf: null,
      windowStart: null,
      episodeStart: null,
      ongoingBefore: null,
      evidence: [],
      ignoredLowCoverage,
    };
  }
  const asOf = newest.observedAt;
  const windowMs = rule.windowSeconds * 1000;
  const windowStart = asOf - windowMs;
  const evidence = qualifying.filter((p) => p.observedAt >= windowStart);
  const base = { asOf, windowStart, evidence, ignoredLowCoverage };
  const latest = `latest value ${newest.value} at ${iso(asOf)}`;

  if (!beyond(rule, newest.value)) {
    return {
      ...base,
      decision: 'ok',
      reasons: [`${latest} is not ${side} the threshold ${rule.threshold}`, ...ignored],
      episodeStart: null,
      ongoingBefore: null,
    };
  }

  // Walk back from the newest point to the first of the unbroken run of beyond-threshold points.
  let first = qualifying.length - 1;
  while (first > 0 && beyond(rule, qualifying[first - 1]!.value)) first -= 1;
  const runStart = qualifying[first]!.observedAt;
  const reachesPastGiven = first === 0 && options.truncated === true;
  const episodeStart = reachesPastGiven ? null : runStart;
  const ongoingBefore = reachesPastGiven ? runStart : null;
  const episode = { ...base, episodeStart, ongoingBefore };

  if (runStart > windowStart) {
    const lasted = (asOf - runStart) / 1000;
    return {
      ...episode,
      decision: 'ok',
      reasons: [
        `${latest} is ${side} the threshold ${rule.threshold}, but only for ${lasted} s of the ${rule.windowSeconds} s window: not sustained`,
        ...ignored,
      ],
    };
  }
  if (evidence.length < rule.minPoints) {
    return {
      ...episode,
      decision: 'insufficient',
      reasons: [
        `${side} the threshold ${rule.threshold} since ${iso(runStart)}, but only ${evidence.length} qualifying point(s) in the last ${rule.windowSeconds} s; ${rule.minPoints} needed`,
        ...ignored,
      ],
    };
  }
  return {
    ...episode,
    decision: 'alarm',
    reasons: [
      `${side} the threshold ${rule.threshold} at all ${evidence.length} qualifying points of the last ${rule.windowSeconds} s (since ${reachesPastGiven ? 'before ' : ''}${iso(runStart)})`,
      ...ignored,
    ],
  };
}

/**
 * How many windows a run of beyond-threshold points may go on before an
 * alarm whose beginning is no longer among the points read asks again.
 */
export const REPEAT_AFTER_WINDOWS = 10;

/**
 * The dedup key of an alarm: one per episode (a run of beyond-threshold
 * points of one metric for one served version), so a continuing alarm never
 * triggers twice. An episode whose beginning is past the points read is keyed
 * by a period of REPEAT_AFTER_WINDOWS windows instead, so an alarm that lasts
 * that long asks again once a period.
 */
export function alarmDedupKey(
  metric: string,
  version: number | null,
  rule: MetricAlarmRule,
  result: PerformanceAlarmResult,
): string {
  if (result.decision !== 'alarm' || result.asOf === null) {
    throw new Error('alarmDedupKey: only an alarm has a dedup key');
  }
  const prefix = `performance/${metric}/v${version ?? '-'}`;
  if (result.episodeStart !== null) return `${prefix}/${iso(result.episodeStart)}`;
  const period = REPEAT_AFTER_WINDOWS * rule.windowSeconds * 1000;
  return `${prefix}/ongoing/${iso(Math.floor(result.asOf / period) * period)}`;
}
