import { max, mean, min } from 'simple-statistics';
import type { CsvTable } from './csv';
import type { DataSchema, ValidationPolicy } from './policy';

/**
 * Checks a dataset against its model's schema before any compute is spent on
 * it. Bad data is the normal case this stage exists for, so it reports every
 * problem it finds instead of throwing at the first.
 */

export interface DataCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
}

export interface ColumnProfile {
  nullRate: number;
  min: number | null;
  max: number | null;
  mean: number | null;
}

export interface DataValidationReport {
  readonly ok: boolean;
  readonly rows: number;
  readonly checks: readonly DataCheck[];
  /** Profiles of the declared features and the label column that are present. */
  readonly columns: Record<string, ColumnProfile>;
}

export interface Matrix {
  readonly X: number[][];
  readonly y: number[];
}

type Cell =
  | { readonly kind: 'null' }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'invalid' };

const NULL_TOKENS = new Set(['', 'na', 'null']);
// Plain decimal notation only: Number() would also accept '0x1f', 'Infinity'
// and '', none of which a feature column should hold.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Whether a cell is missing: empty (after trimming) or the token NA / null,
 * in any case, which is how R, pandas and SQL exports write a missing value.
 *
 * @example
 * isNullCell(' NA '); // => true
 * isNullCell('0');    // => false
 */
export function isNullCell(cell: string | undefined): boolean {
  return cell === undefined || NULL_TOKENS.has(cell.trim().toLowerCase());
}

function readCell(cell: string | undefined): Cell {
  if (isNullCell(cell)) return { kind: 'null' };
  const text = (cell ?? '').trim();
  if (!DECIMAL.test(text)) return { kind: 'invalid' };
  const value = Number(text);
  // '1e999' matches the pattern but overflows to Infinity.
  return Number.isFinite(value) ? { kind: 'number', value } : { kind: 'invalid' };
}

/**
 * Validates a parsed CSV table against the model's data schema and
 * validation policy. Checks, by name: `schema` (declared features and label
 * present), `row_count`, and per feature `type:<col>`, `nulls:<col>`,
 * `range:<col>` (only when min or max is declared), then `label` (no nulls,
 * only 0/1) and `label_balance` (both classes present). Checks of a missing
 * column are left out: `schema` already fails for it.
 *
 * @example
 * const report = validateDataset(parseCsv('x1,label\n0.5,1\n1.5,0\n'),
 *   { features: [{ name: 'x1', maxNullRate: 0 }], label: 'label' }, { minRows: 2 });
 * report.ok; // => true
 */
export function validateDataset(
  table: CsvTable,
  schema: DataSchema,
  rules: ValidationPolicy,
): DataValidationReport {
  const checks: DataCheck[] = [];
  const columns: Record<string, ColumnProfile> = {};
  const rowCount = table.rows.length;
  const index = new Map(table.columns.map((name, i) => [name, i] as const));

  const declared = [...schema.features.map((f) => f.name), schema.label];
  const missing = declared.filter((name) => !index.has(name));
  checks.push({
    name: 'schema',
    ok: missing.length === 0,
    message:
      missing.length === 0
        ? `all ${declared.length} declared columns present`
        : `missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} (have ${table.columns.map((c) => `'${c}'`).join(', ')})`,
  });

  checks.push({
    name: 'row_count',
    ok: rowCount >= rules.minRows,
    message: `${rowCount} rows ${rowCount >= rules.minRows ? '≥' : '<'} required minimum ${rules.minRows}`,
  });

  for (const feature of schema.features) {
    const col = index.get(feature.name);
    if (col === undefined) continue;
    const cells = table.rows.map((row) => readCell(row[col]));
    const values = numbersOf(cells);
    const nulls = cells.filter((c) => c.kind === 'null').length;
    const invalid = table.rows.map((row) => row[col] ?? '').filter((_, r) => cells[r]?.kind === 'invalid');
    const profile = profileOf(values, nulls, rowCount);
    columns[feature.name] = profile;

    checks.push({
      name: `type:${feature.name}`,
      ok: invalid.length === 0,
      message:
        invalid.length === 0
          ? `'${feature.name}': all ${values.length} non-empty cells are numbers`
          : `'${feature.name}': ${invalid.length} cell${invalid.length > 1 ? 's are' : ' is'} not a number (e.g. ${examples(invalid)})`,
    });

    const nullOk = profile.nullRate <= feature.maxNullRate;
    checks.push({
      name: `nulls:${feature.name}`,
      ok: nullOk,
      message: `'${feature.name}': ${nulls} of ${rowCount} cells empty (${percent(profile.nullRate)}) ${nullOk ? '≤' : '>'} allowed ${percent(feature.maxNullRate)}`,
    });

    if (feature.min !== undefined || feature.max !== undefined) {
      const lo = feature.min ?? Number.NEGATIVE_INFINITY;
      const hi = feature.max ?? Number.POSITIVE_INFINITY;
      const outside = values.filter((v) => v < lo || v > hi).length;
      const bounds = `[${feature.min ?? '-∞'}, ${feature.max ?? '∞'}]`;
      const observed = values.length > 0 ? `observed [${profile.min}, ${profile.max}]` : 'no values';
      checks.push({
        name: `range:${feature.name}`,
        ok: outside === 0,
        message:
          outside === 0
            ? `'${feature.name}': all values within ${bounds}, ${observed}`
            : `'${feature.name}': ${outside} of ${values.length} values outside ${bounds}, ${observed}`,
      });
    }
  }

  const labelCol = index.get(schema.label);
  if (labelCol !== undefined) {
    checks.push(...labelChecks(table, schema.label, labelCol, columns));
  }

  return { ok: checks.every((c) => c.ok), rows: rowCount, checks, columns };
}

function labelChecks(
  table: CsvTable,
  label: string,
  col: number,
  columns: Record<string, ColumnProfile>,
): DataCheck[] {
  const raw = table.rows.map((row) => row[col]);
  const cells = raw.map(readCell);
  const nulls = cells.filter((c) => c.kind === 'null').length;
  const bad = raw.filter((_, r) => {
    const c = cells[r];
    return c?.kind === 'invalid' || (c?.kind === 'number' && c.value !== 0 && c.value !== 1);
  });
  const values = numbersOf(cells).filter((v) => v === 0 || v === 1);
  columns[label] = profileOf(values, nulls, table.rows.length);

  const problems: string[] = [];
  if (nulls > 0) problems.push(`${nulls} empty cell${nulls > 1 ? 's' : ''}`);
  if (bad.length > 0)
    problems.push(
      `${bad.length} value${bad.length > 1 ? 's' : ''} other than 0/1 (e.g. ${examples(bad.map((b) => b ?? ''))})`,
    );
  const ones = values.filter((v) => v === 1).length;
  const zeros = values.length - ones;
  return [
    {
      name: 'label',
      ok: problems.length === 0,
      message:
        problems.length === 0
          ? `label '${label}': all ${values.length} values are 0 or 1`
          : `label '${label}': ${problems.join(', ')}`,
    },
    {
      name: 'label_balance',
      ok: zeros > 0 && ones > 0,
      message: `label '${label}': ${zeros} × 0, ${ones} × 1${zeros > 0 && ones > 0 ? '' : ' — a classifier needs both classes'}`,
    },
  ];
}

function numbersOf(cells: readonly Cell[]): number[] {
  return cells.flatMap((c) => (c.kind === 'number' ? [c.value] : []));
}

function profileOf(values: readonly number[], nulls: number, rowCount: number): ColumnProfile {
  const some = values.length > 0;
  return {
    // An empty table has no missing cells; row_count reports it instead.
    nullRate: rowCount === 0 ? 0 : nulls / rowCount,
    min: some ? min(values) : null,
    max: some ? max(values) : null,
    mean: some ? mean(values) : null,
  };
}

function examples(cells: readonly string[]): string {
  const distinct = [...new Set(cells)];
  const shown = distinct.slice(0, 3).map((c) => `'${c}'`);
  return distinct.length > 3 ? `${shown.join(', ')}, …` : shown.join(', ');
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/**
 * Turns a validated table into the feature matrix (schema order, null for a
 * missing cell) and the label vector.
 *
 * @throws {Error} when a declared column is absent or a cell is not a number,
 * or a label is not 0/1 — run validateDataset first
 * @example
 * toMatrix(parseCsv('x1,x2,label\n1,,0\n'), schema);
 * // => { X: [[1, null]], y: [0] }
 */
export function toMatrix(table: CsvTable, schema: DataSchema): { X: (number | null)[][]; y: number[] } {
  const indexOf = (name: string): number => {
    const i = table.columns.indexOf(name);
    if (i < 0) throw new Error(`toMatrix: missing column '${name}'`);
    return i;
  };
  const featureCols = schema.features.map((f) => indexOf(f.name));
  const labelCol = indexOf(schema.label);
  const X = table.rows.map((row, r) =>
    featureCols.map((col) => {
      const cell = readCell(row[col]);
      if (cell.kind === 'invalid') {
        throw new Error(
          `toMatrix: row ${r + 1} column '${table.columns[col]}': '${row[col]}' is not a number`,
        );
      }
      return cell.kind === 'number' ? cell.value : null;
    }),
  );
  const y = table.rows.map((row, r) => {
    const cell = readCell(row[labelCol]);
    if (cell.kind !== 'number' || (cell.value !== 0 && cell.value !== 1)) {
      throw new Error(`toMatrix: row ${r + 1} label '${row[labelCol] ?? ''}' is not 0 or 1`);
    }
    return cell.value;
  });
  return { X, y };
}

/**
 * Splits rows into training and hold-out sets: the last ceil(n × fraction)
 * rows are the hold-out. Not shuffled, on purpose: new data arrives in time
 * order, so the newest rows are the fairest test of how a model will do on
 * tomorrow's traffic, and a deterministic split lets the champion and the
 * candidate be scored on exactly the same rows on every retry.
 *
 * @throws {Error} when holdoutFraction is not strictly between 0 and 1
 * @example
 * splitHoldout([1, 2, 3, 4, 5], 0.2); // => { train: [1, 2, 3, 4], holdout: [5] }
 */
export function splitHoldout<T>(rows: readonly T[], holdoutFraction: number): { train: T[]; holdout: T[] } {
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
    throw new Error(`splitHoldout: holdoutFraction must be in (0, 1), got ${holdoutFraction}`);
  }
  // The relative nudge absorbs float error: 10 × 0.3 is 3.0000000000000004,
  // which would otherwise round up to 4.
  const size = Math.ceil(rows.length * holdoutFraction * (1 - 1e-12));
  const cut = rows.length - size;
  return { train: rows.slice(0, cut), holdout: rows.slice(cut) };
}
