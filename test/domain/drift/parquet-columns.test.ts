import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { csvColumns } from '../../../domain/drift/csv-columns';
import { parquetColumns } from '../../../domain/drift/parquet-columns';

/*
 * Written by pyarrow 26.0.1 with its defaults (Snappy, dictionary pages):
 *   pq.write_table(pa.table({'x_float': [1.5, None, -2.25, 3.0], 'x_int': int64 [1, 2, None, 2**53 + 2],
 *     'plan': ['pro', None, 'Zürich', 'basic'], 'region': int32 [1, 2, 2, None], 'note': [...]}), 'columns.parquet')
 *   pq.write_table(pyarrow.csv.read_csv(generateDataset({rows: 1500, seed: 86, shift: 1.5})), 'shifted-1500.parquet')
 */
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

describe('parquetColumns', () => {
  it('reads numeric columns as Float64Arrays (null → NaN, int64 → nearest double) and categorical ones as text', async () => {
    const columns = await parquetColumns(fixture('columns.parquet'), [
      { name: 'x_float', kind: 'numeric' },
      { name: 'x_int', kind: 'numeric' },
      { name: 'plan', kind: 'categorical' },
      { name: 'region', kind: 'categorical' },
    ]);
    expect(Array.from(columns.x_float as Float64Array)).toEqual([1.5, Number.NaN, -2.25, 3]);
    expect(Array.from(columns.x_int as Float64Array)).toEqual([1, 2, Number.NaN, 2 ** 53 + 2]);
    expect(columns.plan).toEqual(['pro', null, 'Zürich', 'basic']);
    // A category stored as a number reads as the same label a CSV file gives it.
    expect(columns.region).toEqual(['1', '2', '2', null]);
    expect(Object.keys(columns)).toEqual(['x_float', 'x_int', 'plan', 'region']);
  });

  it('gives the same columns as the CSV it was written from', async () => {
    const features = ['x1', 'x2', 'x3', 'x4'].map((name) => ({ name, kind: 'numeric' as const }));
    const fromParquet = await parquetColumns(fixture('shifted-1500.parquet'), features);
    expect((fromParquet.x1 as Float64Array).length).toBe(1500);
    // pyarrow parsed the CSV's 6-decimal cells to the same doubles Number() gives.
    const header = 'x1,x2,x3,x4';
    const x = features.map((f) => Array.from(fromParquet[f.name] as Float64Array));
    const csv = `${header}\n${x[0]!.map((_, r) => x.map((col) => col[r]!.toFixed(6)).join(',')).join('\n')}\n`;
    expect(csvColumns(csv, features)).toEqual(fromParquet);
  });

  it('refuses a file without a feature, or text in a numeric feature', async () => {
    await expect(
      parquetColumns(fixture('columns.parquet'), [{ name: 'age', kind: 'numeric' }]),
    ).rejects.toThrow("parquetColumns: the file has no column 'age'");
    await expect(
      parquetColumns(fixture('columns.parquet'), [{ name: 'note', kind: 'numeric' }]),
    ).rejects.toThrow(`parquetColumns: column 'note' is numeric but row 1 holds "a"`);
  });
});
