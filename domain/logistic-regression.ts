import { mean, standardDeviation } from 'simple-statistics';
import { normalSample, seededRandom } from './random';

/** Hyper-parameters of the builtin trainer (validated by trainers/builtin-logreg.ts). */
export interface TrainingParams {
  readonly epochs: number;
  readonly learningRate: number;
  readonly l2: number;
  readonly seed: number;
}

/**
 * The builtin trainer: binary logistic regression on standardised features,
 * fitted by full-batch gradient descent. Full batch (no shuffling, no
 * mini-batches) makes each epoch a pure function of the state before it, so a
 * run resumed from a JSON checkpoint reaches bit-identical weights to one
 * that never stopped.
 *
 * Weights live in standardised space: z = (x − mean) / std, p = σ(w·z + b).
 */

export interface LogRegModel {
  readonly kind: 'logreg';
  readonly features: readonly string[];
  readonly weights: readonly number[];
  readonly bias: number;
  readonly means: readonly number[];
  readonly stds: readonly number[];
}

/** Everything needed to continue training; plain JSON, so it can be a checkpoint. */
export interface TrainState {
  readonly epoch: number;
  readonly weights: number[];
  readonly bias: number;
  readonly means: number[];
  readonly stds: number[];
  /** Objective at these weights: mean log-loss + (l2 / 2)·‖w‖². */
  readonly loss: number;
}

type Rows = readonly (readonly (number | null)[])[];

/**
 * Starts training: column means and (population) standard deviations for
 * standardisation, computed over the non-null cells; weights drawn from
 * N(0, 0.01²) with seededRandom(params.seed); bias 0; epoch 0.
 *
 * A constant column gets std 1 (it standardises to 0 and its weight stays
 * at the L2 pull towards 0); an all-null column gets mean 0. Nulls are
 * imputed with the column mean, i.e. they standardise to 0.
 *
 * @throws {Error} on empty data, mismatched lengths, ragged rows, labels other
 * than 0/1, non-finite values or invalid params
 * @example
 * const s = initTraining([[0], [1], [2], [3]], [0, 0, 1, 1], { epochs: 100, learningRate: 0.5, l2: 0, seed: 1 });
 * s.means; // => [1.5]
 */
export function initTraining(X: Rows, y: readonly number[], params: TrainingParams): TrainState {
  const width = checkData('initTraining', X, y);
  checkParams('initTraining', params);
  const means: number[] = [];
  const stds: number[] = [];
  for (let j = 0; j < width; j++) {
    const column = X.flatMap((row) => {
      const v = row[j];
      return v === null || v === undefined ? [] : [v];
    });
    const m = column.length > 0 ? mean(column) : 0;
    const s = column.length > 0 ? standardDeviation(column) : 0;
    means.push(m);
    stds.push(s > 0 ? s : 1);
  }
  // Small random weights rather than zeros so a seed visibly identifies a run;
  // logistic loss is convex, so the optimum does not depend on them.
  const rand = seededRandom(params.seed);
  const weights = Array.from({ length: width }, () => 0.01 * normalSample(rand));
  const bias = 0;
  const Z = standardise(X, means, stds);
  return { epoch: 0, weights, bias, means, stds, loss: objective(Z, y, weights, bias, params.l2) };
}

/**
 * One full-batch gradient-descent step on mean log-loss + (l2 / 2)·‖w‖² (the
 * bias is not penalised). Returns a new state with epoch + 1 whose `loss` is
 * the objective AFTER the step, so `state.loss` always describes
 * `state.weights` (the step costs a second pass over the data; clarity wins
 * at this size).
 *
 * @throws {Error} when the data does not match the state or the step diverges
 * (non-finite weights: lower the learning rate)
 * @example
 * let s = initTraining(X, y, params);
 * for (let e = 0; e < params.epochs; e++) s = trainEpoch(s, X, y, params);
 */
export function trainEpoch(
  state: TrainState,
  X: Rows,
  y: readonly number[],
  params: TrainingParams,
): TrainState {
  const width = checkData('trainEpoch', X, y);
  checkParams('trainEpoch', params);
  if (width !== state.weights.length) {
    throw new Error(`trainEpoch: rows have ${width} features, the state has ${state.weights.length} weights`);
  }
  const Z = standardise(X, state.means, state.stds);
  const n = Z.length;
  const gradW = new Array<number>(width).fill(0);
  let gradB = 0;
  for (let i = 0; i < n; i++) {
    const z = Z[i]!;
    const residual = sigmoid(dot(state.weights, z) + state.bias) - y[i]!;
    for (let j = 0; j < width; j++) gradW[j]! += residual * z[j]!;
    gradB += residual;
  }
  const lr = params.learningRate;
  const weights = state.weights.map((w, j) => w - lr * (gradW[j]! / n + params.l2 * w));
  const bias = state.bias - lr * (gradB / n);
  if (!weights.every(Number.isFinite) || !Number.isFinite(bias)) {
    throw new Error(
      `trainEpoch: training diverged at epoch ${state.epoch + 1} (non-finite weights); lower learningRate (${lr})`,
    );
  }
  return {
    epoch: state.epoch + 1,
    weights,
    bias,
    means: [...state.means],
    stds: [...state.stds],
    loss: objective(Z, y, weights, bias, params.l2),
  };
}

/**
 * Runs initTraining and params.epochs epochs in one go, for callers that do
 * not checkpoint (tests, demos, evaluation baselines).
 *
 * @example
 * const model = fitLogReg([[0], [1], [2], [3]], [0, 0, 1, 1], params, ['x1']);
 */
export function fitLogReg(
  X: Rows,
  y: readonly number[],
  params: TrainingParams,
  features: readonly string[],
): LogRegModel {
  let state = initTraining(X, y, params);
  while (state.epoch < params.epochs) state = trainEpoch(state, X, y, params);
  return toModel(state, features);
}

/**
 * Freezes a training state into a servable model.
 *
 * @throws {Error} when the number of feature names differs from the weights
 * @example
 * toModel(state, ['x1', 'x2']).kind; // => 'logreg'
 */
export function toModel(state: TrainState, features: readonly string[]): LogRegModel {
  if (features.length !== state.weights.length) {
    throw new Error(`toModel: ${features.length} feature names for ${state.weights.length} weights`);
  }
  return {
    kind: 'logreg',
    features: [...features],
    weights: [...state.weights],
    bias: state.bias,
    means: [...state.means],
    stds: [...state.stds],
  };
}

/**
 * P(label = 1) for one row given in model.features order; a null cell is
 * imputed with the training mean, as in training.
 *
 * @throws {Error} when the row length is wrong or a value is not finite
 * @example
 * predictProba(model, [1.2, null, 0.3]); // => a probability in (0, 1)
 */
export function predictProba(model: LogRegModel, row: readonly (number | null)[]): number {
  if (row.length !== model.features.length) {
    throw new Error(`predictProba: expected ${model.features.length} values, got ${row.length}`);
  }
  let logit = model.bias;
  for (let j = 0; j < row.length; j++) {
    const v = row[j];
    if (v === null || v === undefined) continue; // mean-imputed: standardises to 0
    if (!Number.isFinite(v)) {
      throw new Error(`predictProba: value for '${model.features[j]}' is ${v}, not a finite number`);
    }
    logit += model.weights[j]! * ((v - model.means[j]!) / model.stds[j]!);
  }
  return sigmoid(logit);
}

/**
 * P(label = 1) for a request body keyed by feature name; extra keys are
 * ignored, null is imputed with the training mean.
 *
 * @throws {Error} `predictRow: missing feature <name>` when a feature is absent
 * @example
 * predictRow(model, { x1: 1.2, x2: null, x3: 0.3 });
 */
export function predictRow(
  model: LogRegModel,
  values: Readonly<Record<string, number | null | undefined>>,
): number {
  const row = model.features.map((name) => {
    // Own properties only: a feature named 'constructor' must not read Object.prototype.
    const v = Object.hasOwn(values, name) ? values[name] : undefined;
    if (v === undefined) throw new Error(`predictRow: missing feature ${name}`);
    return v;
  });
  return predictProba(model, row);
}

/**
 * Whether a value (e.g. a parsed artifact) is a well-formed LogRegModel.
 *
 * @example
 * isLogRegModel(JSON.parse(artifactJson)); // => true for a model written by toModel
 */
export function isLogRegModel(x: unknown): x is LogRegModel {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as Record<string, unknown>;
  const finiteArray = (v: unknown): v is number[] =>
    Array.isArray(v) && v.every((e) => typeof e === 'number' && Number.isFinite(e));
  if (m.kind !== 'logreg' || typeof m.bias !== 'number' || !Number.isFinite(m.bias)) return false;
  if (!Array.isArray(m.features) || !m.features.every((f) => typeof f === 'string')) return false;
  if (!finiteArray(m.weights) || !finiteArray(m.means) || !finiteArray(m.stds)) return false;
  const d = m.features.length;
  return m.weights.length === d && m.means.length === d && m.stds.length === d && m.stds.every((s) => s > 0);
}

function checkData(fn: string, X: Rows, y: readonly number[]): number {
  if (X.length === 0) throw new Error(`${fn}: X must not be empty`);
  if (X.length !== y.length) throw new Error(`${fn}: X has ${X.length} rows but y has ${y.length}`);
  const width = X[0]!.length;
  if (width === 0) throw new Error(`${fn}: rows must have at least one feature`);
  X.forEach((row, i) => {
    if (row.length !== width) {
      throw new Error(`${fn}: row ${i + 1} has ${row.length} values, expected ${width}`);
    }
    for (const v of row) {
      if (v !== null && !Number.isFinite(v)) {
        throw new Error(`${fn}: row ${i + 1} has a non-finite value ${v}`);
      }
    }
    const label = y[i];
    if (label !== 0 && label !== 1) throw new Error(`${fn}: label ${i + 1} is ${label}, expected 0 or 1`);
  });
  return width;
}

function checkParams(fn: string, params: TrainingParams): void {
  if (!(params.learningRate > 0 && Number.isFinite(params.learningRate))) {
    throw new Error(`${fn}: learningRate must be a positive number, got ${params.learningRate}`);
  }
  if (!(params.l2 >= 0 && Number.isFinite(params.l2))) {
    throw new Error(`${fn}: l2 must be a non-negative number, got ${params.l2}`);
  }
}

function standardise(X: Rows, means: readonly number[], stds: readonly number[]): number[][] {
  return X.map((row) => row.map((v, j) => (v === null ? 0 : (v - means[j]!) / stds[j]!)));
}

function dot(w: readonly number[], z: readonly number[]): number {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]! * z[j]!;
  return s;
}

/** σ(t) without overflow: exp is only ever taken of a non-positive number. */
function sigmoid(t: number): number {
  if (t >= 0) return 1 / (1 + Math.exp(-t));
  const e = Math.exp(t);
  return e / (1 + e);
}

/**
 * Mean log-loss + (l2 / 2)·‖w‖². Per row, −[y log p + (1 − y) log(1 − p)]
 * with p = σ(t) equals softplus(t) − y·t, which stays exact where p rounds
 * to 0 or 1 (so no clipping is needed here, unlike metrics on given p).
 */
function objective(
  Z: readonly number[][],
  y: readonly number[],
  w: readonly number[],
  b: number,
  l2: number,
): number {
  let total = 0;
  for (let i = 0; i < Z.length; i++) {
    const t = dot(w, Z[i]!) + b;
    total += softplus(t) - y[i]! * t;
  }
  return total / Z.length + (l2 / 2) * dot(w, w);
}

function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}
