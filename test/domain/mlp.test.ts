import { describe, expect, it } from 'vitest';
import { isMlpModel, type MlpModel, predictMlp } from '../../domain/mlp';
import { isServableModel, predictByName } from '../../domain/servable-model';

// 2 inputs → 2 ReLU units → 1 sigmoid output. By hand for x = (3, 1), means (1, 1), stds (2, 1):
// standardised (1, 0); hidden: relu(1*1 + 0*2 + 0) = 1, relu(-1*1 + 0 + 0.5) = 0; out: 2*1 - 3*0 - 1 = 1; σ(1) = 0.7310585786
const model: MlpModel = {
  kind: 'mlp',
  features: ['a', 'b'],
  means: [1, 1],
  stds: [2, 1],
  layers: [
    {
      weights: [
        [1, 2],
        [-1, 0],
      ],
      bias: [0, 0.5],
    },
    { weights: [[2, -3]], bias: [-1] },
  ],
};

describe('mlp', () => {
  it.each([
    [[3, 1], 0.7310585786300049],
    // null is the mean: standardised (0, 0) → hidden (0, 0.5) → out −1 − 1.5 = −2.5 → σ = 0.0758582
    [[null, null], 0.07585818002124355],
  ])('predicts %j → %f', (row, expected) => {
    expect(predictMlp(model, row)).toBeCloseTo(expected, 12);
  });

  it('is served by name like any other model, and rejects malformed artifacts', () => {
    expect(isServableModel(model)).toBe(true);
    expect(predictByName(model, { a: 3, b: 1, extra: 9 })).toBeCloseTo(0.7310585786300049, 12);
    expect(() => predictByName(model, { a: 3 })).toThrow('missing feature b');
    expect(isMlpModel({ ...model, layers: [{ weights: [[1, 2, 3]], bias: [0] }] })).toBe(false);
    expect(isMlpModel({ ...model, layers: [model.layers[0]] })).toBe(false); // two outputs, not one
  });
});
