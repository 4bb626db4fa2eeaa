import { isLogRegModel, type LogRegModel, predictProba } from './logistic-regression';
import { isMlpModel, type MlpModel, predictMlp } from './mlp';

/** Every model artifact the gateway and the evaluation can run. */
export type ServableModel = LogRegModel | MlpModel;

export function isServableModel(x: unknown): x is ServableModel {
  return isLogRegModel(x) || isMlpModel(x);
}

/** P(label = 1) for a row in `model.features` order (null = missing, imputed with the training mean). */
export function predictServable(model: ServableModel, row: readonly (number | null)[]): number {
  return model.kind === 'mlp' ? predictMlp(model, row) : predictProba(model, row);
}

/**
 * P(label = 1) for a request body keyed by feature name; extra keys are ignored.
 *
 * @throws {Error} `missing feature <name>` when a feature is absent
 */
export function predictByName(
  model: ServableModel,
  values: Readonly<Record<string, number | null | undefined>>,
): number {
  return predictServable(model, rowByName(model, values));
}

/**
 * A request body keyed by feature name as a row in `model.features` order.
 *
 * @throws {Error} `missing feature <name>` when a feature is absent
 */
export function rowByName(
  model: ServableModel,
  values: Readonly<Record<string, number | null | undefined>>,
): (number | null)[] {
  return model.features.map((name) => {
    // Own properties only: a feature named 'constructor' must not read Object.prototype.
    const v = Object.hasOwn(values, name) ? values[name] : undefined;
    if (v === undefined) throw new Error(`missing feature ${name}`);
    return v;
  });
}
