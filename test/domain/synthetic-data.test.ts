import { beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../domain/csv';
import { toMatrix, validateDataset } from '../../domain/data-validation';
import { fitLogReg, type LogRegModel, predictProba } from '../../domain/logistic-regression';
import { classificationMetrics } from '../../domain/metrics';
import { type DataSchema, dataSchemaSchema } from '../../domain/policy';
import { generateDataset, type SyntheticDataOptions } from '../../domain/synthetic-data';

const schema: DataSchema = dataSchemaSchema.parse({
  features: ['x1', 'x2', 'x3', 'x4'].map((name) => ({ name, maxNullRate: 0.2 })),
  label: 'label',
});
const features = schema.features.map((f) => f.name);
const params = { epochs: 200, learningRate: 0.5, l2: 0.001, seed: 42 };
const ROWS = 2000;

const load = (opts: SyntheticDataOptions) => toMatrix(parseCsv(generateDataset(opts)), schema);
const train = (opts: SyntheticDataOptions) => {
  const { X, y } = load(opts);
  return fitLogReg(X, y, params, features);
};
const accuracy = (model: LogRegModel, opts: SyntheticDataOptions) => {
  const { X, y } = load(opts);
  return classificationMetrics(
    y,
    X.map((row) => predictProba(model, row)),
  ).accuracy;
};

describe('generateDataset', () => {
  it('writes x1..xn,label and is reproducible from its seed', () => {
    const text = generateDataset({ rows: 5, seed: 7, features: 3 });
    const table = parseCsv(text);
    expect(table.columns).toEqual(['x1', 'x2', 'x3', 'label']);
    expect(table.rows).toHaveLength(5);
    expect(generateDataset({ rows: 5, seed: 7, features: 3 })).toBe(text);
    expect(generateDataset({ rows: 5, seed: 8, features: 3 })).not.toBe(text);
  });

  it('passes validation when clean', () => {
    const report = validateDataset(parseCsv(generateDataset({ rows: 500, seed: 1 })), schema, {
      minRows: 100,
    });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('shift moves every feature mean', () => {
    const report = validateDataset(parseCsv(generateDataset({ rows: 4000, seed: 2, shift: 1.5 })), schema, {
      minRows: 1,
    });
    // The mean of 4000 N(1.5, 1) draws has sd 0.016.
    for (const name of features) expect(report.columns[name]?.mean).toBeCloseTo(1.5, 1);
  });

  it('nullRate empties about that share of feature cells, never labels', () => {
    const report = validateDataset(
      parseCsv(generateDataset({ rows: 4000, seed: 3, nullRate: 0.1 })),
      schema,
      {
        minRows: 1,
      },
    );
    // sd of the observed share: √(0.1·0.9/4000) ≈ 0.005
    for (const name of features)
      expect(Math.abs((report.columns[name]?.nullRate ?? 0) - 0.1)).toBeLessThan(0.02);
    expect(report.columns.label?.nullRate).toBe(0);
  });

  it('labelNoise turns that share of positives into negatives', () => {
    const clean = load({ rows: 4000, seed: 4 });
    const noisy = load({ rows: 4000, seed: 4, labelNoise: 0.4 });
    // Same seed, same features: the uniform stream does not depend on the noise settings.
    expect(noisy.X).toEqual(clean.X);
    expect(noisy.y.every((label, i) => label <= clean.y[i]!)).toBe(true);
    const positives = clean.y.filter((v) => v === 1).length;
    const flipped = clean.y.filter((v, i) => v === 1 && noisy.y[i] === 0).length;
    expect(Math.abs(flipped / positives - 0.4)).toBeLessThan(0.04);
  });

  it.each([
    [{ rows: 0, seed: 1 }, 'generateDataset: rows must be a positive integer'],
    [{ rows: 10, seed: 1, features: 0 }, 'generateDataset: features must be a positive integer'],
    [{ rows: 10, seed: 1, labelNoise: 1.5 }, 'generateDataset: labelNoise must be in [0, 1]'],
    [{ rows: 10, seed: 1, nullRate: -0.1 }, 'generateDataset: nullRate must be in [0, 1]'],
    [{ rows: 10, seed: 1, shift: Number.NaN }, 'generateDataset: shift must be a finite number'],
  ])('rejects %j', (opts, message) => {
    expect(() => generateDataset(opts)).toThrow(message);
  });
});

describe('synthetic data as a retraining scenario (logistic regression, 200 epochs, lr 0.5)', () => {
  // Independent seeds for every train and test set; the values are
  // deterministic, the bounds leave room for the sampling noise of 2000 rows.
  let baseOnBase = 0;
  let baseOnDrift = 0;
  let driftedOnDrift = 0;
  let noisyOnClean = 0;
  beforeAll(() => {
    const base = train({ rows: ROWS, seed: 11 });
    baseOnBase = accuracy(base, { rows: ROWS, seed: 12 });
    baseOnDrift = accuracy(base, { rows: ROWS, seed: 13, shift: 1.5 });
    const drifted = train({ rows: ROWS, seed: 14, shift: 1.5 });
    driftedOnDrift = accuracy(drifted, { rows: ROWS, seed: 13, shift: 1.5 });
    const noisy = train({ rows: ROWS, seed: 15, labelNoise: 0.4 });
    noisyOnClean = accuracy(noisy, { rows: ROWS, seed: 12 });
  });

  it('a model trained on unshifted data scores 0.85-0.9 on it', () => {
    expect(baseOnBase).toBeGreaterThanOrEqual(0.84);
    expect(baseOnBase).toBeLessThanOrEqual(0.91);
  });

  it('the same model degrades by at least 5 points under drift (shift 1.5)', () => {
    expect(baseOnBase - baseOnDrift).toBeGreaterThanOrEqual(0.05);
  });

  it('a model retrained on drifted data recovers 0.85-0.9 there', () => {
    expect(driftedOnDrift).toBeGreaterThanOrEqual(0.84);
    expect(driftedOnDrift).toBeLessThanOrEqual(0.91);
    expect(driftedOnDrift - baseOnDrift).toBeGreaterThanOrEqual(0.05);
  });

  it('training on labelNoise 0.4 gives a clearly worse model on clean data', () => {
    expect(baseOnBase - noisyOnClean).toBeGreaterThanOrEqual(0.05);
  });

  it('reports the measured accuracies', () => {
    // Kept visible so that a change to the generator shows up in review.
    expect({ baseOnBase, baseOnDrift, driftedOnDrift, noisyOnClean }).toMatchInlineSnapshot(`
      {
        "baseOnBase": 0.864,
        "baseOnDrift": 0.6725,
        "driftedOnDrift": 0.8775,
        "noisyOnClean": 0.6845,
      }
    `);
  });
});
