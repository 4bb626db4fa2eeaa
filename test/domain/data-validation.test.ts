import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../domain/csv';
import { splitHoldout, toMatrix, validateDataset } from '../../domain/data-validation';
import { type DataSchema, dataSchemaSchema } from '../../domain/policy';

const schema: DataSchema = dataSchemaSchema.parse({
  features: [
    { name: 'x1', min: 0, max: 10 },
    { name: 'x2', maxNullRate: 0.25 },
  ],
  label: 'label',
});
const rules = { minRows: 4 };

// Clean: x1 = 1..4 (mean 2.5), x2 = -1, 0.5, NA, 2 (one null in four), both classes.
const CLEAN = 'x1,x2,label\n1,-1,0\n2,0.5,1\n3,NA,0\n4,2,1\n';

function check(text: string, name: string) {
  const report = validateDataset(parseCsv(text), schema, rules);
  const found = report.checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check named ${name}`);
  return { report, check: found };
}

describe('validateDataset', () => {
  it('passes clean data and profiles each column', () => {
    const report = validateDataset(parseCsv(CLEAN), schema, rules);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.rows).toBe(4);
    expect(report.checks.map((c) => c.name)).toEqual([
      'schema',
      'row_count',
      'type:x1',
      'nulls:x1',
      'range:x1',
      'type:x2',
      'nulls:x2',
      'label',
      'label_balance',
    ]);
    expect(report.columns.x1).toEqual({ nullRate: 0, min: 1, max: 4, mean: 2.5 });
    // x2 non-null: -1, 0.5, 2 → mean 0.5
    expect(report.columns.x2).toEqual({ nullRate: 0.25, min: -1, max: 2, mean: 0.5 });
    expect(report.columns.label).toEqual({ nullRate: 0, min: 0, max: 1, mean: 0.5 });
  });

  it.each([
    ['a missing feature', 'x1,label\n1,0\n2,1\n3,0\n4,1\n', 'schema', ["'x2'"]],
    ['a missing label column', 'x1,x2\n1,1\n2,1\n3,1\n4,1\n', 'schema', ["'label'"]],
    ['too few rows', 'x1,x2,label\n1,1,0\n2,2,1\n', 'row_count', ['2 rows', '4']],
    [
      'non-numeric cells',
      'x1,x2,label\n1,1,0\nabc,1,1\n0x10,1,0\n4,1,1\n',
      'type:x1',
      ['2 cells', "'abc'", "'0x10'"],
    ],
    [
      'too many nulls',
      'x1,x2,label\n1,,0\n2,null,1\n3,1,0\n4,1,1\n',
      'nulls:x2',
      ['2 of 4', '50.0%', '25.0%'],
    ],
    [
      'nulls in a column that allows none',
      'x1,x2,label\n,1,0\n2,1,1\n3,1,0\n4,1,1\n',
      'nulls:x1',
      ['1 of 4'],
    ],
    [
      'out-of-range values',
      'x1,x2,label\n-5,1,0\n2,1,1\n12,1,0\n4,1,1\n',
      'range:x1',
      ['2 of 4', '[0, 10]', 'observed [-5, 12]'],
    ],
    ['null labels', 'x1,x2,label\n1,1,0\n2,1,\n3,1,0\n4,1,1\n', 'label', ['1 empty cell']],
    [
      'labels other than 0/1',
      'x1,x2,label\n1,1,0\n2,1,2\n3,1,yes\n4,1,1\n',
      'label',
      ['2 values', "'2'", "'yes'"],
    ],
    ['a single class', 'x1,x2,label\n1,1,1\n2,1,1\n3,1,1\n4,1,1\n', 'label_balance', ['0 × 0', '4 × 1']],
  ])('flags %s', (_name, text, name, fragments) => {
    const { report, check: c } = check(text, name);
    expect(report.ok).toBe(false);
    expect(c.ok).toBe(false);
    for (const fragment of fragments) expect(c.message).toContain(fragment);
    // Only the named problem is reported (a missing column also drops its own checks).
    expect(report.checks.filter((x) => !x.ok).map((x) => x.name)).toEqual([name]);
  });

  it('reports instead of throwing on hopeless data', () => {
    const report = validateDataset(parseCsv('x1,x2,label\n'), schema, rules);
    expect(report.ok).toBe(false);
    expect(report.rows).toBe(0);
    expect(report.columns.x1).toEqual({ nullRate: 0, min: null, max: null, mean: null });
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['row_count', 'label_balance']);
  });

  it('treats an unbounded side of a range as open', () => {
    const oneSided = dataSchemaSchema.parse({ features: [{ name: 'x1', min: 0 }], label: 'label' });
    const report = validateDataset(parseCsv('x1,label\n1e9,0\n0,1\n'), oneSided, { minRows: 1 });
    expect(report.checks.find((c) => c.name === 'range:x1')).toMatchObject({ ok: true });
  });
});

describe('toMatrix', () => {
  it('orders features as the schema does and keeps nulls', () => {
    const table = parseCsv('label,x2,x1,extra\n1,NA,1.5,z\n0,-2,3,z\n');
    expect(toMatrix(table, schema)).toEqual({
      X: [
        [1.5, null],
        [3, -2],
      ],
      y: [1, 0],
    });
  });

  it.each([
    ['x1,label\n1,0\n', "toMatrix: missing column 'x2'"],
    ['x1,x2,label\n1,abc,0\n', "toMatrix: row 1 column 'x2': 'abc' is not a number"],
    ['x1,x2,label\n1,1,0\n1,1,\n', "toMatrix: row 2 label '' is not 0 or 1"],
  ])('throws on unvalidated input %#', (text, message) => {
    expect(() => toMatrix(parseCsv(text), schema)).toThrow(message);
  });
});

describe('splitHoldout', () => {
  it.each([
    [10, 0.2, 2],
    [10, 0.3, 3], // 10 × 0.3 is 3.0000000000000004 in floating point
    [7, 0.2, 2], // ceil(1.4)
    [3, 0.5, 2], // ceil(1.5)
    [1, 0.2, 1],
    [0, 0.2, 0],
  ])('%i rows at %f → the last %i are hold-out', (n, fraction, size) => {
    const rows = Array.from({ length: n }, (_, i) => i);
    const { train, holdout } = splitHoldout(rows, fraction);
    expect(holdout).toEqual(rows.slice(n - size));
    expect(train).toEqual(rows.slice(0, n - size));
  });

  it.each([0, 1, -0.1, Number.NaN])('rejects fraction %f', (fraction) => {
    expect(() => splitHoldout([1, 2], fraction)).toThrow('splitHoldout: holdoutFraction must be in (0, 1)');
  });
});
