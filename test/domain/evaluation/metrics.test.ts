import { describe, expect, it } from 'vitest';
import {
  accuracy,
  f1Score,
  logLoss,
  mae,
  prepareRocAuc,
  rmse,
  rocAuc,
} from '../../../domain/evaluation/metrics';
import vectors from '../../fixtures/evaluation/vectors.json';
import { expectClose } from './close';

const byName = { accuracy, f1: f1Score, rocAuc, logLoss, rmse, mae } as const;

// Expected values: sklearn.metrics accuracy_score, f1_score, roc_auc_score, log_loss,
// root_mean_squared_error, mean_absolute_error, with sample_weight where given.
describe('evaluation metrics', () => {
  it.each(vectors.metrics)('$metric $note', (v) => {
    const metric = byName[v.metric as keyof typeof byName];
    const actual = v.weights === null ? metric(v.yTrue, v.scores) : metric(v.yTrue, v.scores, v.weights);
    expectClose(actual, v.expected, 1e-12);
  });

  it('integer weights are the same as repeating rows', () => {
    const y = [1, 0, 1, 0, 1];
    const s = [0.9, 0.3, 0.3, 0.6, 0.7];
    const w = [2, 0, 1, 3, 1];
    const repeat = <T>(values: readonly T[]) => values.flatMap((v, i) => Array<T>(w[i]!).fill(v));
    expectClose(rocAuc(y, s, w), rocAuc(repeat(y), repeat(s)), 1e-15);
    expectClose(logLoss(y, s, w), logLoss(repeat(y), repeat(s)), 1e-15);
    expectClose(rmse(y, s, w), rmse(repeat(y), repeat(s)), 1e-15);
  });

  it('prepareRocAuc sorts once and scores any weighting', () => {
    const auc = prepareRocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
    expect(auc()).toBe(0.75);
    expectClose(auc([2, 1, 1, 1]), 5 / 6, 1e-15);
    expect(() => auc([1, 1, 0, 0])).toThrow('rocAuc: needs both classes among the (weighted) rows');
  });

  it.each([
    [() => accuracy([1, 0], [1]), 'accuracy: inputs must have the same length (2 vs 1)'],
    [() => rmse([], []), 'rmse: needs at least one row'],
    [() => f1Score([2], [1]), 'f1Score: yTrue[0] is 2, expected 0 or 1'],
    [() => rocAuc([1, 1], [0.2, 0.3]), 'rocAuc: needs both classes'],
    [() => rocAuc([1, 0], [Number.NaN, 0.3]), 'rocAuc: scores[0] is NaN, not a finite number'],
    [() => logLoss([1], [1.2]), 'logLoss: proba[0] is 1.2, expected a probability'],
    [() => mae([1], [Number.POSITIVE_INFINITY]), 'mae: row 0 has a non-finite value'],
    [() => accuracy([1], [1], [-1]), 'accuracy: weights[0] is -1, expected ≥ 0'],
    [() => accuracy([1], [1], [0]), 'accuracy: weights sum to 0'],
    [() => accuracy([1], [1], [1, 1]), 'accuracy: weights must have one value per row (2 vs 1)'],
  ])('rejects bad input (%#)', (call, message) => {
    expect(call).toThrow(message);
  });
});
