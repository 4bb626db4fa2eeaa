import { describe, expect, it } from 'vitest';
import {
  fitLogReg,
  initTraining,
  isLogRegModel,
  type LogRegModel,
  predictProba,
  predictRow,
  type TrainState,
  toModel,
  trainEpoch,
} from '../../domain/logistic-regression';
import { classificationMetrics } from '../../domain/metrics';
import { normalSample, seededRandom } from '../../domain/random';

const params = { epochs: 100, learningRate: 0.5, l2: 0.001, seed: 42 };

/** Linearly separable: label = [x1 + 2·x2 − 1 > 0], features on different scales. */
function separable(n: number, seed: number) {
  const rand = seededRandom(seed);
  const X: (number | null)[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const x1 = 3 * normalSample(rand);
    const x2 = 10 + 0.5 * normalSample(rand);
    X.push([x1, x2]);
    y.push(x1 + 2 * (x2 - 10) - 1 > 0 ? 1 : 0);
  }
  return { X, y };
}

describe('logistic regression training', () => {
  it('learns a separable dataset', () => {
    const train = separable(1000, 1);
    const test = separable(1000, 2);
    const model = fitLogReg(train.X, train.y, { ...params, epochs: 300 }, ['x1', 'x2']);
    const proba = test.X.map((row) => predictProba(model, row));
    expect(classificationMetrics(test.y, proba).accuracy).toBeGreaterThan(0.95);
  });

  it('resumes from a JSON checkpoint bit-identically', () => {
    const { X, y } = separable(500, 3);
    let straight = initTraining(X, y, params);
    for (let e = 0; e < 100; e++) straight = trainEpoch(straight, X, y, params);

    let first = initTraining(X, y, params);
    for (let e = 0; e < 60; e++) first = trainEpoch(first, X, y, params);
    // What a heartbeat or artifact checkpoint does to the state.
    let resumed = JSON.parse(JSON.stringify(first)) as TrainState;
    for (let e = 0; e < 40; e++) resumed = trainEpoch(resumed, X, y, params);

    expect(resumed.epoch).toBe(100);
    expect(resumed).toEqual(straight);
    for (const [j, w] of straight.weights.entries()) expect(Object.is(resumed.weights[j], w)).toBe(true);
    expect(Object.is(resumed.bias, straight.bias)).toBe(true);
    expect(Object.is(resumed.loss, straight.loss)).toBe(true);
  });

  it('lowers the loss every epoch at a moderate learning rate', () => {
    const { X, y } = separable(300, 4);
    let state = initTraining(X, y, params);
    for (let e = 0; e < 50; e++) {
      const next = trainEpoch(state, X, y, params);
      expect(next.loss).toBeLessThan(state.loss);
      state = next;
    }
  });

  it('standardises with population statistics over non-null cells (constant column → std 1)', () => {
    const state = initTraining(
      [
        [1, null],
        [2, 4],
        [3, 4],
        [4, null],
      ],
      [0, 0, 1, 1],
      params,
    );
    expect(state.epoch).toBe(0);
    expect(state.bias).toBe(0);
    expect(state.means).toEqual([2.5, 4]);
    // Python: math.sqrt(sum((x-2.5)**2 for x in [1,2,3,4])/4) = 1.118033988749895
    expect(state.stds[0]).toBeCloseTo(1.118033988749895, 15);
    expect(state.stds[1]).toBe(1);
    expect(state.weights.every((w) => Math.abs(w) < 0.05)).toBe(true);
    expect(initTraining([[1], [2]], [0, 1], params).weights).toEqual(
      initTraining([[5], [9]], [1, 0], params).weights,
    );
  });

  it('takes one hand-computed gradient step, reporting the loss after it', () => {
    // w = 0, b = 0 → p = ½ for both rows; residuals −½, +½;
    // ∂w = ((−½)(1) + (½)(−1)) / 2 + l2·0 = −½ → w = 0 − 1·(−½) = ½; ∂b = 0.
    // Loss after: both rows have log(1 + e^−½); plus l2/2·w² = 0.05·0.25.
    // Python: math.log(1+math.exp(-0.5)) + 0.1/2*0.25 = 0.4865769841801067
    const start: TrainState = { epoch: 0, weights: [0], bias: 0, means: [0], stds: [1], loss: Math.LN2 };
    const next = trainEpoch(start, [[1], [-1]], [1, 0], { epochs: 1, learningRate: 1, l2: 0.1, seed: 0 });
    expect(next.epoch).toBe(1);
    expect(next.weights).toEqual([0.5]);
    expect(next.bias).toBe(0);
    expect(next.loss).toBeCloseTo(0.4865769841801067, 14);
    expect(start.weights).toEqual([0]); // the input state is not mutated
  });

  it.each([
    ['mismatched lengths', [[1], [2]], [0], 'initTraining: X has 2 rows but y has 1'],
    ['no rows', [], [], 'initTraining: X must not be empty'],
    ['ragged rows', [[1, 2], [3]], [0, 1], 'initTraining: row 2 has 1 values, expected 2'],
    ['a label other than 0/1', [[1], [2]], [0, 2], 'initTraining: label 2 is 2, expected 0 or 1'],
    ['a non-finite value', [[1], [Number.NaN]], [0, 1], 'initTraining: row 2 has a non-finite value NaN'],
  ])('rejects %s', (_name, X, y, message) => {
    expect(() => initTraining(X, y, params)).toThrow(message);
  });

  it('rejects data that does not match the state', () => {
    const state = initTraining([[1], [2]], [0, 1], params);
    expect(() => trainEpoch(state, [[1, 2]], [0], params)).toThrow(
      'trainEpoch: rows have 2 features, the state has 1 weights',
    );
  });
});

describe('prediction', () => {
  // z = (x − 1) / 2; logit = 2·z − 1.
  const model: LogRegModel = {
    kind: 'logreg',
    features: ['a'],
    weights: [2],
    bias: -1,
    means: [1],
    stds: [2],
  };

  it.each([
    [[3], 0.7310585786300049], // z = 1 → σ(1); Python: 1/(1+math.exp(-1))
    [[null], 0.2689414213699951], // mean-imputed: z = 0 → σ(−1)
    [[1], 0.2689414213699951],
    [[-1e6], 0], // far tail: σ underflows to 0 without NaN
  ])('predictProba(%j) = %f', (row, expected) => {
    expect(predictProba(model, row)).toBeCloseTo(expected, 15);
  });

  it('predictRow reads features by name, ignores extra keys and imputes null', () => {
    const two: LogRegModel = {
      ...model,
      features: ['constructor', 'b'],
      weights: [2, 0],
      means: [1, 0],
      stds: [2, 1],
    };
    expect(predictRow(two, { b: 5, constructor: 3, extra: 9 })).toBeCloseTo(0.7310585786300049, 15);
    expect(predictRow(two, { b: 5, constructor: null })).toBeCloseTo(0.2689414213699951, 15);
  });

  it.each([
    [{}, 'predictRow: missing feature constructor'],
    [{ constructor: 1 }, 'predictRow: missing feature b'],
    [{ constructor: 1, b: undefined }, 'predictRow: missing feature b'],
  ])('predictRow throws for %j', (values, message) => {
    const two: LogRegModel = {
      ...model,
      features: ['constructor', 'b'],
      weights: [2, 0],
      means: [1, 0],
      stds: [2, 1],
    };
    expect(() => predictRow(two, values)).toThrow(message);
  });

  it('predictProba rejects a row of the wrong length or a non-finite value', () => {
    expect(() => predictProba(model, [1, 2])).toThrow('predictProba: expected 1 values, got 2');
    expect(() => predictProba(model, [Number.POSITIVE_INFINITY])).toThrow(
      "predictProba: value for 'a' is Infinity",
    );
  });

  it('toModel freezes a state and survives JSON', () => {
    const { X, y } = separable(50, 5);
    let state = initTraining(X, y, params);
    state = trainEpoch(state, X, y, params);
    const frozen = toModel(state, ['x1', 'x2']);
    expect(frozen).toEqual({
      kind: 'logreg',
      features: ['x1', 'x2'],
      weights: state.weights,
      bias: state.bias,
      means: state.means,
      stds: state.stds,
    });
    expect(frozen.weights).not.toBe(state.weights);
    expect(JSON.parse(JSON.stringify(frozen))).toEqual(frozen);
    expect(() => toModel(state, ['x1'])).toThrow('toModel: 1 feature names for 2 weights');
  });
});

describe('isLogRegModel', () => {
  const valid = {
    kind: 'logreg',
    features: ['a', 'b'],
    weights: [1, -1],
    bias: 0.5,
    means: [0, 1],
    stds: [1, 2],
  };
  it.each([
    ['a valid model', valid, true],
    ['the same after JSON', JSON.parse(JSON.stringify(valid)), true],
    ['null', null, false],
    ['a string', 'logreg', false],
    ['another kind', { ...valid, kind: 'tree' }, false],
    ['weights of the wrong length', { ...valid, weights: [1] }, false],
    ['a NaN weight', { ...valid, weights: [1, Number.NaN] }, false],
    ['a zero std', { ...valid, stds: [1, 0] }, false],
    ['a non-string feature', { ...valid, features: ['a', 2] }, false],
    ['a missing bias', { ...valid, bias: undefined }, false],
  ])('%s → %s', (_name, value, expected) => {
    expect(isLogRegModel(value)).toBe(expected);
  });
});
