/**
 * A small multi-layer perceptron as the serving gateway runs it: standardised
 * inputs (nulls imputed with the training mean), ReLU hidden layers, one
 * sigmoid output unit. Written by trainers/python/torch_trainer.py as JSON, so
 * a model trained on a GPU is served by the builtin gateway without PyTorch.
 */
export interface MlpLayer {
  /** `weights[out][in]`, as in torch.nn.Linear. */
  readonly weights: readonly (readonly number[])[];
  readonly bias: readonly number[];
}

export interface MlpModel {
  readonly kind: 'mlp';
  readonly features: readonly string[];
  readonly means: readonly number[];
  readonly stds: readonly number[];
  readonly layers: readonly MlpLayer[];
}

const finiteArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((e) => typeof e === 'number' && Number.isFinite(e));

/**
 * Whether a parsed artifact is a well-formed MlpModel (shapes chain from the
 * inputs to one output).
 *
 * @example
 * isMlpModel(JSON.parse(artifactJson)); // => true for torch_trainer.py's model.json
 */
export function isMlpModel(x: unknown): x is MlpModel {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as Record<string, unknown>;
  if (m.kind !== 'mlp' || !Array.isArray(m.features) || !m.features.every((f) => typeof f === 'string'))
    return false;
  if (!finiteArray(m.means) || !finiteArray(m.stds) || !Array.isArray(m.layers) || m.layers.length === 0)
    return false;
  let width = m.features.length;
  if (m.means.length !== width || m.stds.length !== width || !m.stds.every((s) => s > 0)) return false;
  for (const layer of m.layers as unknown[]) {
    const l = layer as Record<string, unknown>;
    if (!Array.isArray(l.weights) || !finiteArray(l.bias) || l.weights.length !== l.bias.length) return false;
    if (!l.weights.every((row) => finiteArray(row) && row.length === width)) return false;
    width = l.bias.length;
  }
  return width === 1;
}

/**
 * P(label = 1) for one row in `model.features` order.
 *
 * @throws {Error} when the row length is wrong or a value is not finite
 * @example
 * predictMlp(model, [0.2, null, 1.5]); // => a probability in (0, 1)
 */
export function predictMlp(model: MlpModel, row: readonly (number | null)[]): number {
  if (row.length !== model.features.length) {
    throw new Error(`predictMlp: expected ${model.features.length} values, got ${row.length}`);
  }
  let activations = row.map((v, j) => {
    if (v === null || v === undefined) return 0; // mean-imputed: standardises to 0
    if (!Number.isFinite(v)) throw new Error(`predictMlp: value for '${model.features[j]}' is ${v}`);
    return (v - model.means[j]!) / model.stds[j]!;
  });
  model.layers.forEach((layer, i) => {
    const last = i === model.layers.length - 1;
    activations = layer.weights.map((w, o) => {
      let z = layer.bias[o]!;
      for (let k = 0; k < w.length; k++) z += w[k]! * activations[k]!;
      return last ? z : Math.max(0, z);
    });
  });
  return 1 / (1 + Math.exp(-activations[0]!));
}
