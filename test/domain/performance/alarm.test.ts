import { describe, expect, it } from 'vitest';
import {
  type AlarmDecision,
  alarmDedupKey,
  type MetricPoint,
  performanceAlarm,
} from '../../../domain/performance/alarm';
import { parsePerformancePolicy } from '../../../domain/performance/policy';
import { parsePolicy } from '../../../domain/policy';

const { metrics } = parsePerformancePolicy({
  metrics: {
    accuracy: { threshold: 0.8, windowSeconds: 60 },
    rmse: { threshold: 2, direction: 'above', windowSeconds: 60, minPoints: 2, minCoverage: 0.5 },
  },
});
const accuracy = metrics.accuracy!;
const rmse = metrics.rmse!;

const T0 = Date.parse('2025-03-01T12:00:00Z');
/** Points from [seconds, value, coverage?] triples. */
const pts = (...xs: [number, number, number?][]): MetricPoint[] =>
  xs.map(([s, value, coverage]) => ({
    observedAt: T0 + s * 1000,
    value,
    coverage: coverage ?? null,
    samples: 100,
  }));

describe('performanceAlarm', () => {
  it.each<[string, MetricPoint[], AlarmDecision]>([
    ['below at every point over the whole window', pts([0, 0.7], [30, 0.72], [60, 0.69]), 'alarm'],
    [
      'the window starts mid-run: earlier beyond-threshold points cover it',
      pts([0, 0.7], [50, 0.72], [100, 0.69], [110, 0.7]),
      'alarm',
    ],
    ['a single dip after good values', pts([0, 0.9], [30, 0.91], [60, 0.6]), 'ok'],
    ['a drop younger than the window', pts([0, 0.9], [20, 0.7], [40, 0.7], [70, 0.7]), 'ok'],
    ['recovered at the newest point', pts([0, 0.7], [30, 0.7], [60, 0.7], [90, 0.85]), 'ok'],
    ['one good point inside the window breaks the run', pts([0, 0.7], [30, 0.85], [60, 0.7]), 'ok'],
    ['equal to the threshold is not beyond it', pts([0, 0.8], [30, 0.8], [60, 0.8]), 'ok'],
    ['sustained but too few points in the window', pts([0, 0.7], [60, 0.7]), 'insufficient'],
    ['no points at all', [], 'insufficient'],
    ['only low-coverage points', pts([0, 0.5, 0.1], [30, 0.5, 0.1], [60, 0.5, 0.05]), 'insufficient'],
    [
      'low-coverage points neither break the run nor count toward it',
      pts([0, 0.7], [20, 0.95, 0.1], [30, 0.7], [60, 0.7]),
      'alarm',
    ],
    [
      'low-coverage bad points cannot make a drop sustained',
      pts([0, 0.6, 0.1], [30, 0.6, 0.1], [40, 0.7], [50, 0.7], [60, 0.7]),
      'ok',
    ],
    ['points arrive out of order', pts([60, 0.69], [0, 0.7], [30, 0.72]), 'alarm'],
  ])('accuracy (below 0.8, 60 s, 3 points): %s', (_name, points, decision) => {
    expect(performanceAlarm(points, accuracy).decision).toBe(decision);
  });

  it.each<[string, MetricPoint[], AlarmDecision]>([
    ['error metric above its threshold for the window', pts([0, 2.5, 0.9], [60, 2.4, 0.6]), 'alarm'],
    ['error metric under its threshold', pts([0, 1.5], [60, 1.4]), 'ok'],
    ['coverage 0.5 qualifies, 0.49 does not', pts([0, 2.5, 0.49], [30, 2.5, 0.5], [60, 2.5]), 'ok'],
  ])('rmse (above 2, 60 s, 2 points, coverage ≥ 0.5): %s', (_name, points, decision) => {
    expect(performanceAlarm(points, rmse).decision).toBe(decision);
  });

  it('says why, and gives the window and the points that made the alarm', () => {
    const points = pts([0, 0.7], [20, 0.9, 0.05], [30, 0.72], [60, 0.69]);
    const result = performanceAlarm(points, accuracy);
    expect(result).toMatchObject({
      decision: 'alarm',
      asOf: T0 + 60_000,
      windowStart: T0,
      episodeStart: T0,
      ongoingBefore: null,
      ignoredLowCoverage: 1,
    });
    expect(result.evidence.map((p) => p.value)).toEqual([0.7, 0.72, 0.69]);
    expect(result.reasons).toEqual([
      'below the threshold 0.8 at all 3 qualifying points of the last 60 s (since 2025-03-01T12:00:00.000Z)',
      '1 point(s) with label coverage below 0.2 are not evidence',
    ]);
  });

  it('explains a drop that is not yet sustained and a window short of points', () => {
    const young = performanceAlarm(pts([0, 0.9], [30, 0.7], [45, 0.7]), accuracy);
    expect(young.reasons[0]).toBe(
      'latest value 0.7 at 2025-03-01T12:00:45.000Z is below the threshold 0.8, but only for 15 s of the 60 s window: not sustained',
    );
    const sparse = performanceAlarm(pts([0, 0.7], [60, 0.7]), accuracy);
    expect(sparse.reasons[0]).toMatch(/only 2 qualifying point\(s\) in the last 60 s; 3 needed/);
  });

  it('keys a continuing alarm by the start of its episode, so new points do not change the key', () => {
    const first = performanceAlarm(pts([0, 0.9], [10, 0.7], [40, 0.7], [70, 0.7]), accuracy);
    const later = performanceAlarm(pts([0, 0.9], [10, 0.7], [40, 0.7], [70, 0.7], [100, 0.65]), accuracy);
    expect(first.decision).toBe('alarm');
    expect(later.decision).toBe('alarm');
    expect(alarmDedupKey('accuracy', 3, accuracy, first)).toBe(
      'performance/accuracy/v3/2025-03-01T12:00:10.000Z',
    );
    expect(alarmDedupKey('accuracy', 3, accuracy, later)).toBe(alarmDedupKey('accuracy', 3, accuracy, first));
    // After a recovery, a new drop is a new episode.
    const again = performanceAlarm(
      pts([10, 0.7], [40, 0.7], [70, 0.7], [80, 0.9], [90, 0.7], [120, 0.7], [150, 0.7]),
      accuracy,
    );
    expect(alarmDedupKey('accuracy', 3, accuracy, again)).toBe(
      'performance/accuracy/v3/2025-03-01T12:01:30.000Z',
    );
  });

  it('keys an episode older than the points read by a period of ten windows', () => {
    const result = performanceAlarm(pts([0, 0.7], [30, 0.7], [60, 0.7]), accuracy, { truncated: true });
    expect(result).toMatchObject({ decision: 'alarm', episodeStart: null, ongoingBefore: T0 });
    // 12:01:00 falls in the 600 s period that began at 12:00:00.
    expect(alarmDedupKey('accuracy', null, accuracy, result)).toBe(
      'performance/accuracy/v-/ongoing/2025-03-01T12:00:00.000Z',
    );
    expect(() => alarmDedupKey('accuracy', 1, accuracy, performanceAlarm([], accuracy))).toThrow(
      'alarmDedupKey: only an alarm has a dedup key',
    );
  });

  it('refuses non-finite values', () => {
    expect(() => performanceAlarm(pts([0, Number.NaN]), accuracy)).toThrow('performanceAlarm:');
  });
});

describe('performance policy', () => {
  it('fills defaults and keeps older policies valid with nothing monitored', () => {
    const schema = { features: [{ name: 'x' }], label: 'y' };
    expect(parsePolicy({ schema }).performance).toEqual({ enabled: true, metrics: {} });
    expect(parsePerformancePolicy({ metrics: { auc: { threshold: 0.7 } } }).metrics.auc).toEqual({
      threshold: 0.7,
      direction: 'below',
      windowSeconds: 3600,
      minPoints: 3,
      minCoverage: 0.2,
      enabled: true,
    });
  });

  it.each([
    ['no threshold', { metrics: { auc: {} } }],
    ['coverage above 1', { metrics: { auc: { threshold: 0.7, minCoverage: 1.5 } } }],
    ['zero window', { metrics: { auc: { threshold: 0.7, windowSeconds: 0 } } }],
    ['bad metric name', { metrics: { 'a b': { threshold: 0.7 } } }],
    ['unknown direction', { metrics: { auc: { threshold: 0.7, direction: 'sideways' } } }],
  ])('refuses %s', (_name, input) => {
    expect(() => parsePerformancePolicy(input)).toThrow();
  });
});
