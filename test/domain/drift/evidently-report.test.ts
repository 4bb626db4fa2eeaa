import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromEvidentlyReport } from '../../../domain/drift/evidently-report';
import { monitorVerdict } from '../../../domain/drift/monitor-verdict';
import { parseDriftPolicy } from '../../../domain/drift/policy';

/*
 * The fixtures are real exports of evidently 0.7.23 (pandas 2.3.3), made by
 * (x1 shifted by 1 sd, plan's shares moved from 1/3 each to 0.6/0.2/0.2):
 *   rng = np.random.default_rng(7); n = 2000; ref/cur = x1..x4 normal, plan in basic/pro/team
 *   Report([DataDriftPreset()]).run(cur, ref).json()                       -> evidently-0.7-default.json
 *   Report([DataDriftPreset(num_method='ks', cat_method='chisquare'),
 *           ValueDrift(column='x2', method='psi')]).run(cur, ref).json()   -> evidently-0.7-ks.json
 *   evidently.legacy Report(metrics=[DataDriftPreset()]), seed 8, n = 800, .json() -> evidently-legacy.json
 * and, from the snapshot of evidently-0.7-ks.json (ref columns x1..x4 then plan drawn before cur's):
 *   json.dumps(snapshot.dump_dict(), cls=evidently.core.report.NumpyEncoder)  -> evidently-0.7-snapshot.json
 */
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8'));
const policy = parseDriftPolicy({}); // PSI 0.2, BH-adjusted p 0.05, 30 % of features

describe('fromEvidentlyReport', () => {
  it('reads a 0.7 default preset: normed Wasserstein and Jensen–Shannon distances with their thresholds', () => {
    const { format, features } = fromEvidentlyReport(fixture('evidently-0.7-default'));
    expect(format).toBe('evidently-0.7');
    expect(features.map((f) => f.name)).toEqual(['x1', 'x2', 'x3', 'x4', 'plan']);
    expect(features[0]).toEqual({
      name: 'x1',
      distance: { method: 'Wasserstein distance (normed)', value: 1.0914066485215121, threshold: 0.1 },
      stattest: 'Wasserstein distance (normed)',
      monitorDrifted: true,
    });
    expect(features[4]).toMatchObject({
      distance: { method: 'Jensen-Shannon distance', value: 0.19497460924027296 },
    });
    const verdict = monitorVerdict(features, policy);
    expect(verdict.features.filter((f) => f.drifted).map((f) => f.name)).toEqual(['x1', 'plan']);
    expect(verdict).toMatchObject({ drifted: true, share: 0.4 });
  });

  it('reads KS and chi-squared p-values and merges a second (PSI) test of the same column', () => {
    const { features } = fromEvidentlyReport(fixture('evidently-0.7-ks'));
    expect(features.map((f) => f.name)).toEqual(['x1', 'x2', 'x3', 'x4', 'plan']);
    expect(features[1]).toEqual({
      name: 'x2',
      pValue: 0.9699601425241099,
      psi: 0.006867223558863935,
      stattest: 'ks, psi',
      monitorDrifted: false,
    });
    expect(features[4]).toMatchObject({ pValue: 3.135178500050081e-150, stattest: 'chisquare' });
    const verdict = monitorVerdict(features, policy);
    expect(verdict.features.filter((f) => f.drifted).map((f) => f.name)).toEqual(['x1', 'plan']);
    // BH over five p-values: the smallest, ×5/1, stays far below 0.05.
    expect(verdict.features[0]!.adjustedPValue).toBeCloseTo(6.110744300241902e-166 * 5, 170);
  });

  it("reads the legacy drift_by_columns shape and keeps Evidently's own flag apart from the verdict", () => {
    const { format, features } = fromEvidentlyReport(fixture('evidently-legacy'));
    expect(format).toBe('evidently-legacy');
    expect(features).toHaveLength(5);
    expect(features[0]).toEqual({
      name: 'x1',
      pValue: 2.0328526239566474e-59,
      stattest: 'K-S p_value',
      monitorDrifted: true,
    });
    expect(features[4]).toMatchObject({ name: 'plan', stattest: 'chi-square p_value', monitorDrifted: true });
    // Evidently said dataset_drift: false (2 of 5 < its 50 %); ctloop's policy wants 30 %.
    expect(monitorVerdict(features, policy)).toMatchObject({ drifted: true, share: 0.4 });
  });

  it("reads Snapshot.dump_dict(), Evidently's full serialization, as the same statistics as its json()", () => {
    const snapshot = fixture('evidently-0.7-snapshot') as { metric_results: Record<string, unknown> };
    // The export is mostly widgets (about 380 kB for five columns); only the ValueDrift results count.
    expect(Object.keys(snapshot)).toEqual(
      expect.arrayContaining(['metric_results', 'widgets', 'top_level_metrics', 'timestamp']),
    );
    const { format, features } = fromEvidentlyReport(snapshot);
    expect(format).toBe('evidently-0.7-snapshot');
    expect(features).toEqual(fromEvidentlyReport(fixture('evidently-0.7-ks')).features);
    expect(features[1]).toMatchObject({ name: 'x2', pValue: 0.9699601425241099, psi: 0.006867223558863935 });

    const id = Object.keys(snapshot.metric_results)[1]!;
    const broken = structuredClone(snapshot);
    delete (broken.metric_results[id] as { value?: number }).value;
    expect(() => fromEvidentlyReport(broken)).toThrow(
      `evidently report: metric_results.${id}.value is missing`,
    );
    expect(() => fromEvidentlyReport({ metric_results: {} })).toThrow(
      /metric_results holds no ValueDrift result/,
    );
  });

  it('reads a single legacy ColumnDriftMetric', () => {
    const report = {
      metrics: [
        {
          metric: 'ColumnDriftMetric',
          result: {
            column_name: 'age',
            column_type: 'num',
            stattest_name: 'PSI',
            stattest_threshold: 0.1,
            drift_score: 0.31,
            drift_detected: true,
          },
        },
      ],
    };
    expect(fromEvidentlyReport(report).features).toEqual([
      { name: 'age', psi: 0.31, stattest: 'PSI', monitorDrifted: true },
    ]);
  });

  const valueDrift = (config: Record<string, unknown>, value: unknown = 0.01) => ({
    metrics: [{ config: { type: 'evidently:metric_v2:ValueDrift', ...config }, value }],
  });
  it.each([
    ['no metrics', {}, '`metrics` is missing or not an array'],
    ['metrics not an array', { metrics: {} }, '`metrics` is missing or not an array'],
    [
      'no drift metric',
      { metrics: [{ metric: 'DatasetSummaryMetric', result: {} }] },
      'no per-column drift result',
    ],
    [
      'a ValueDrift without its column',
      valueDrift({ method: 'ks', threshold: 0.05 }),
      'metrics[0].config.column is missing',
    ],
    [
      'a ValueDrift without its score',
      valueDrift({ column: 'a', method: 'ks', threshold: 0.05 }, null),
      'metrics[0].value is not a finite number',
    ],
    [
      'an unknown stattest',
      valueDrift({ column: 'a', method: 'my_test', threshold: 0.05 }),
      "stattest 'my_test'",
    ],
    [
      'a legacy column without drift_score',
      {
        metrics: [
          {
            metric: 'DataDriftTable',
            result: {
              drift_by_columns: { a: { column_name: 'a', stattest_name: 'ks', stattest_threshold: 0.05 } },
            },
          },
        ],
      },
      'metrics[0].result.drift_by_columns.a.drift_score is missing',
    ],
    [
      'two p-values for one column',
      {
        metrics: [
          valueDrift({ column: 'a', method: 'ks', threshold: 0.05 }).metrics[0],
          valueDrift({ column: 'a', method: 't_test', threshold: 0.05 }).metrics[0],
        ],
      },
      "column 'a' has two p-value statistics (ks and t_test)",
    ],
  ])('refuses %s, naming what is wrong', (_name, report, message) => {
    expect(() => fromEvidentlyReport(report)).toThrow(message);
  });
});
