import { describe, expect, it } from 'vitest';
import { classificationMetrics } from '../../domain/metrics';

describe('classificationMetrics', () => {
  // logLoss values from Python, e.g.
  //   -(math.log(.9)+math.log(.8)+math.log(.4)+math.log(.4))/4 = 0.5402713826800865
  //   -(math.log(.8)+math.log(1-.6)+math.log(.65))/3 = 0.5234057330936063
  //   -math.log(1e-15) = 34.538776394910684;  -(math.log(1-1e-15)) = 9.992007221626415e-16
  it.each([
    ['mixed', [1, 0, 1, 0], [0.9, 0.2, 0.4, 0.6], 0.5, 0.5, 0.5402713826800865, 0.5],
    ['perfect and certain (clipped)', [1, 0], [1, 0], 0.5, 1, 9.992007221626415e-16, 0.5],
    ['certain and wrong (clipped)', [1], [0], 0.5, 0, 34.538776394910684, 0],
    ['p equal to the threshold is positive', [1, 0], [0.5, 0.5], 0.5, 0.5, Math.LN2, 1],
    ['custom threshold', [1, 0, 1], [0.8, 0.6, 0.65], 0.7, 2 / 3, 0.5234057330936063, 1 / 3],
  ])('%s', (_name, yTrue, proba, threshold, accuracy, logLoss, positiveRate) => {
    const m = classificationMetrics(yTrue, proba, threshold);
    expect(m.n).toBe(yTrue.length);
    expect(m.accuracy).toBeCloseTo(accuracy, 15);
    expect(m.logLoss).toBeCloseTo(logLoss, 12);
    expect(m.positiveRate).toBeCloseTo(positiveRate, 15);
  });

  it('defaults the threshold to 0.5', () => {
    expect(classificationMetrics([1, 0], [0.5, 0.49]).accuracy).toBe(1);
  });

  it.each([
    [[1, 0], [0.5], 0.5, 'classificationMetrics: yTrue and proba must have the same length (2 vs 1)'],
    [[], [], 0.5, 'classificationMetrics: needs at least one row'],
    [[2], [0.5], 0.5, 'classificationMetrics: yTrue[0] is 2, expected 0 or 1'],
    [[1], [1.5], 0.5, 'classificationMetrics: proba[0] is 1.5, expected a probability'],
    [[1], [Number.NaN], 0.5, 'classificationMetrics: proba[0] is NaN'],
    [[1], [0.5], 2, 'classificationMetrics: threshold must be in [0, 1], got 2'],
  ])('rejects %j / %j (threshold %f)', (yTrue, proba, threshold, message) => {
    expect(() => classificationMetrics(yTrue, proba, threshold)).toThrow(message);
  });
});
