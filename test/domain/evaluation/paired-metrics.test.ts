import { describe, expect, it } from 'vitest';
import { improvementInterval, metricValue, orient } from '../../../domain/evaluation/paired-metrics';
import type { EvaluationMetric } from '../../../domain/evaluation/policy';
import { seededRandom } from '../../../domain/random';
import vectors from '../../fixtures/evaluation/vectors.json';
import { expectClose } from './close';
import { boundTolerance, pValueTolerance } from './monte-carlo';

const RESAMPLES = 10_000;

// Reference: an independent numpy bootstrap (multinomial counts, 200,000 resamples; 50,000 for AUC),
// percentile bounds by np.percentile(linear). Our random numbers differ, hence the Monte Carlo tolerance
// of ./monte-carlo.ts. The point estimates are exact (scikit-learn).
describe('improvementInterval against a numpy bootstrap', () => {
  it.each(vectors.bootstrapMonteCarlo)('$metric', (v) => {
    const metric = v.metric as EvaluationMetric;
    const rows = { yTrue: v.yTrue, candidate: v.candidate, champion: v.champion, threshold: 0.5 };
    const result = improvementInterval(metric, rows, {
      resamples: RESAMPLES,
      alpha: v.alpha,
      random: seededRandom(2024),
    });
    expectClose(result.estimate, v.estimate, 1e-9, 1e-12);
    const estimate = orient(
      metric,
      metricValue(metric, v.yTrue, v.candidate, 0.5),
      metricValue(metric, v.yTrue, v.champion, 0.5),
    );
    expectClose(estimate, v.estimate, 1e-9, 1e-12);
    const tolerance = (q: number) =>
      boundTolerance(v.standardError, q, RESAMPLES, v.referenceResamples, v.granularity);
    expect(Math.abs(result.lower - v.lower)).toBeLessThanOrEqual(tolerance(v.alpha / 2));
    expect(Math.abs(result.upper - v.upper)).toBeLessThanOrEqual(tolerance(1 - v.alpha / 2));
    expect(Math.abs(result.pValue - v.pValue)).toBeLessThanOrEqual(
      pValueTolerance(v.pValue, RESAMPLES, v.referenceResamples),
    );
    expectClose(result.standardError, v.standardError, 0.05);
  });
});

describe('metricValue and orient', () => {
  it('thresholds scores for accuracy and f1 (a score equal to the threshold is positive)', () => {
    expect(metricValue('accuracy', [1, 0, 1], [0.5, 0.49, 0.2], 0.5)).toBeCloseTo(2 / 3, 15);
    expect(metricValue('f1', [1, 0, 1], [0.5, 0.49, 0.2], 0.5)).toBeCloseTo(2 / 3, 15);
  });

  it('orients improvements so that positive is better', () => {
    expect(orient('accuracy', 0.9, 0.8)).toBeCloseTo(0.1, 15);
    expect(orient('logLoss', 0.3, 0.4)).toBeCloseTo(0.1, 15);
  });
});
