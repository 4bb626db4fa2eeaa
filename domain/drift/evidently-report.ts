import type { MonitorFeature } from './monitor-verdict';

/**
 * Evidently's drift reports, read as a monitor's per-feature statistics.
 *
 * Three export shapes are accepted, as Evidently writes them (checked
 * against evidently 0.7.23):
 *
 * - 0.7 (`evidently.Report` with `DataDriftPreset` or `ValueDrift`;
 *   `snapshot.json()`): `metrics[]` entries whose `config.type` is
 *   `evidently:metric_v2:ValueDrift` carry `config.column`, `config.method`,
 *   `config.threshold` and the score in `value`. The 0.6 `evidently.future`
 *   API writes the same entries.
 * - legacy (0.4.x `Report` with `DataDriftPreset`, `DataDriftTable` or
 *   `ColumnDriftMetric`; `report.as_dict()` / `json()`, and
 *   `evidently.legacy` in 0.7): `metrics[].result.drift_by_columns.<column>`,
 *   or a `ColumnDriftMetric` result itself, with `column_name`,
 *   `stattest_name`, `stattest_threshold`, `drift_score`, `drift_detected`.
 * - 0.7 snapshot (`Snapshot.dump_dict()`, the full serialization that
 *   `Snapshot.load` reads back and a workspace stores): `metric_results.<id>`
 *   whose `metric_value_location.metric.params.type` is
 *   `evidently:metric_v2:ValueDrift` carry `column`, `method` and `threshold`
 *   there, and the score in `value`; widgets and other results are ignored.
 *
 * Evidently's score means different things per stattest: a p-value (drift
 * when below the threshold), PSI, or a distance (drift when at or above it).
 * The kind is read from the stattest's name, the short one (`ks`) or the
 * display one (`K-S p_value`); an unknown stattest is refused rather than
 * guessed at. Other metrics in the report (dataset summaries, counts) are
 * ignored: the verdict is ctloop's, from the per-column statistics.
 */

export type EvidentlyFormat = 'evidently-0.7' | 'evidently-0.7-snapshot' | 'evidently-legacy';

type ScoreKind = 'p-value' | 'psi' | 'distance';

/** Evidently's registered stattests (evidently/legacy/calculations/stattests), short and display names. */
const STATTESTS: Readonly<Record<string, ScoreKind>> = {
  ks: 'p-value',
  'K-S p_value': 'p-value',
  chisquare: 'p-value',
  'chi-square p_value': 'p-value',
  z: 'p-value',
  'Z-test p_value': 'p-value',
  anderson: 'p-value',
  'Anderson-Darling': 'p-value',
  cramer_von_mises: 'p-value',
  'Cramer-von Mises': 'p-value',
  es: 'p-value',
  'Epps-Singleton': 'p-value',
  fisher_exact: 'p-value',
  "Fisher's Exact test": 'p-value',
  g_test: 'p-value',
  mannw: 'p-value',
  'Mann-Whitney U-rank test': 'p-value',
  empirical_mmd: 'p-value',
  t_test: 'p-value',
  TVD: 'p-value',
  'Total-Variation-Distance': 'p-value',
  psi: 'psi',
  PSI: 'psi',
  wasserstein: 'distance',
  'Wasserstein distance (normed)': 'distance',
  jensenshannon: 'distance',
  'Jensen-Shannon distance': 'distance',
  kl_div: 'distance',
  'Kullback-Leibler divergence': 'distance',
  hellinger: 'distance',
  'Hellinger distance': 'distance',
  'Hellinger distance (normed)': 'distance',
  ed: 'distance',
  'Energy-distance': 'distance',
};

/** One column's statistic as Evidently reported it, before columns are merged. */
interface ColumnScore {
  readonly column: string;
  readonly stattest: string;
  readonly threshold: number;
  readonly score: number;
  readonly drifted?: boolean;
}

/** True when the value looks like an Evidently export (a `metrics` array), whatever its contents. */
export function looksLikeEvidentlyReport(value: unknown): value is { metrics: unknown[] } {
  return isObject(value) && Array.isArray(value.metrics);
}

/** True when the value looks like an Evidently `Snapshot.dump_dict()` (a `metric_results` object). */
export function looksLikeEvidentlySnapshot(
  value: unknown,
): value is { metric_results: Record<string, unknown> } {
  return isObject(value) && isObject(value.metric_results);
}

/**
 * Maps an Evidently drift report to ctloop's monitor features: per column a
 * PSI, a p-value, or a distance with Evidently's threshold, plus the
 * stattest's name and Evidently's own flag (kept for the record; the model's
 * policy decides). A column tested twice (e.g. `ks` and `psi`) becomes one
 * feature with both statistics.
 *
 * @throws {Error} `evidently report: ...` naming the missing or malformed
 * field (with its path, e.g. `metrics[1].config.column`), an unknown
 * stattest, a column with two statistics of one kind, or a report without
 * any per-column drift result
 * @example
 * fromEvidentlyReport({ metrics: [{ config: { type: 'evidently:metric_v2:ValueDrift',
 *   column: 'age', method: 'ks', threshold: 0.05 }, value: 0.001 }] });
 * // => { format: 'evidently-0.7', features: [{ name: 'age', pValue: 0.001,
 * //      stattest: 'ks', monitorDrifted: true }] }
 */
export function fromEvidentlyReport(report: unknown): {
  format: EvidentlyFormat;
  features: MonitorFeature[];
} {
  if (looksLikeEvidentlySnapshot(report)) {
    return {
      format: 'evidently-0.7-snapshot',
      features: mergeByColumn(snapshotScores(report.metric_results)),
    };
  }
  if (!looksLikeEvidentlyReport(report)) {
    throw new Error('evidently report: `metrics` is missing or not an array');
  }
  const scores: ColumnScore[] = [];
  let format: EvidentlyFormat | undefined;
  report.metrics.forEach((metric, i) => {
    const at = `metrics[${i}]`;
    if (!isObject(metric)) throw new Error(`evidently report: ${at} is not an object`);
    if (isObject(metric.config) && metric.config.type === 'evidently:metric_v2:ValueDrift') {
      format ??= 'evidently-0.7';
      scores.push(valueDrift(metric, at));
    } else if (isObject(metric.result) && 'drift_by_columns' in metric.result) {
      format ??= 'evidently-legacy';
      const byColumn = metric.result.drift_by_columns;
      if (!isObject(byColumn))
        throw new Error(`evidently report: ${at}.result.drift_by_columns is not an object`);
      for (const [key, column] of Object.entries(byColumn)) {
        scores.push(legacyColumn(column, `${at}.result.drift_by_columns.${key}`));
      }
    } else if (metric.metric === 'ColumnDriftMetric') {
      format ??= 'evidently-legacy';
      scores.push(legacyColumn(metric.result, `${at}.result`));
    }
  });
  if (format === undefined || scores.length === 0) {
    throw new Error(
      'evidently report: no per-column drift result (a ValueDrift metric from DataDriftPreset, or a legacy DataDriftTable / ColumnDriftMetric result with drift_by_columns)',
    );
  }
  return { format, features: mergeByColumn(scores) };
}

/** The ValueDrift results of a snapshot, in the report's order. */
function snapshotScores(results: Record<string, unknown>): ColumnScore[] {
  const scores: ColumnScore[] = [];
  for (const [id, result] of Object.entries(results)) {
    const at = `metric_results.${id}`;
    if (!isObject(result)) throw new Error(`evidently report: ${at} is not an object`);
    const location = result.metric_value_location;
    const metric = isObject(location) ? location.metric : undefined;
    const params = isObject(metric) ? metric.params : undefined;
    if (!isObject(params) || params.type !== 'evidently:metric_v2:ValueDrift') continue;
    const p = `${at}.metric_value_location.metric.params`;
    scores.push({
      column: text(params.column, `${p}.column`),
      stattest: text(params.method, `${p}.method`),
      threshold: finite(params.threshold, `${p}.threshold`),
      score: finite(result.value, `${at}.value`),
    });
  }
  if (scores.length === 0) {
    throw new Error(
      'evidently report: metric_results holds no ValueDrift result (a snapshot of a report with DataDriftPreset or ValueDrift metrics)',
    );
  }
  return scores;
}

function valueDrift(metric: Record<string, unknown>, at: string): ColumnScore {
  const config = metric.config as Record<string, unknown>;
  return {
    column: text(config.column, `${at}.config.column`),
    stattest: text(config.method, `${at}.config.method`),
    threshold: finite(config.threshold, `${at}.config.threshold`),
    score: finite(metric.value, `${at}.value`),
  };
}

function legacyColumn(column: unknown, at: string): ColumnScore {
  if (!isObject(column)) throw new Error(`evidently report: ${at} is not an object`);
  return {
    column: text(column.column_name, `${at}.column_name`),
    stattest: text(column.stattest_name, `${at}.stattest_name`),
    threshold: finite(column.stattest_threshold, `${at}.stattest_threshold`),
    score: finite(column.drift_score, `${at}.drift_score`),
    drifted: typeof column.drift_detected === 'boolean' ? column.drift_detected : undefined,
  };
}

function mergeByColumn(scores: readonly ColumnScore[]): MonitorFeature[] {
  const features = new Map<string, MonitorFeature>();
  for (const s of scores) {
    const kind = STATTESTS[s.stattest];
    if (kind === undefined) {
      throw new Error(
        `evidently report: column '${s.column}' uses stattest '${s.stattest}', which ctloop does not know (it cannot tell whether its score is a p-value or a distance); known: ${Object.keys(STATTESTS).join(', ')}`,
      );
    }
    const drifted = s.drifted ?? (kind === 'p-value' ? s.score < s.threshold : s.score >= s.threshold);
    const previous = features.get(s.column);
    const stat: Partial<MonitorFeature> =
      kind === 'p-value'
        ? { pValue: s.score }
        : kind === 'psi'
          ? { psi: s.score }
          : { distance: { method: s.stattest, value: s.score, threshold: s.threshold } };
    const key = Object.keys(stat)[0] as keyof MonitorFeature;
    if (previous?.[key] !== undefined) {
      throw new Error(
        `evidently report: column '${s.column}' has two ${kind} statistics (${previous.stattest} and ${s.stattest}); keep one`,
      );
    }
    features.set(s.column, {
      ...previous,
      name: s.column,
      ...stat,
      stattest: previous ? `${previous.stattest}, ${s.stattest}` : s.stattest,
      monitorDrifted: (previous?.monitorDrifted ?? false) || drifted,
    });
  }
  return [...features.values()];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new Error(
      `evidently report: ${path} is ${value === undefined ? 'missing' : 'not a non-empty string'}`,
    );
  }
  return value;
}

function finite(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(
      `evidently report: ${path} is ${value === undefined ? 'missing' : 'not a finite number'}`,
    );
  }
  return value;
}
