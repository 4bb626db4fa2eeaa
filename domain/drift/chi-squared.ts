import { chiSquaredSf } from './incomplete-gamma';

/**
 * Pearson's chi-squared test of homogeneity for a categorical feature: do the
 * reference and the current sample come from the same category distribution?
 * The 2×k table has one row per sample and one column per category seen on
 * either side; expected counts are row total × column total / grand total;
 * statistic Σ (O − E)² / E, dof = k − 1. Same numbers as
 * `scipy.stats.chi2_contingency(table, correction=False)` (no Yates
 * correction, which SciPy applies only when dof = 1 and which would make the
 * test depend on k). A category seen on one side only is a column with a 0
 * in the other row: its column total is positive, so E > 0 and it simply adds
 * its (large) share to the statistic — no smoothing is needed, unlike PSI.
 *
 * Reference: https://docs.scipy.org/doc/scipy/reference/generated/scipy.stats.chi2_contingency.html
 */

export interface CategoryCounts {
  readonly counts: Map<string, number>;
  /** Cells left out: null (a missing value is not a category; null rates are data validation's job). */
  readonly missing: number;
}

export interface ChiSquaredResult {
  readonly statistic: number;
  readonly dof: number;
  readonly pValue: number;
  /** The table's columns, in order of first appearance (reference first). */
  readonly categories: readonly string[];
}

/**
 * Counts the categories of a column, leaving nulls out.
 *
 * @example
 * countCategories(['a', null, 'b', 'a']); // => { counts: Map { 'a' => 2, 'b' => 1 }, missing: 1 }
 */
export function countCategories(values: readonly (string | null)[]): CategoryCounts {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const v of values) {
    if (v === null) missing++;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return { counts, missing };
}

/**
 * Chi-squared test of homogeneity of two category count tables. Categories
 * with a count of 0 on both sides are dropped (they are not observed; SciPy
 * would reject the table for a zero expected count). With a single category
 * the table has dof 0: statistic 0 and p-value 1, as SciPy returns.
 *
 * @throws {Error} `chiSquaredHomogeneity: ...` when a count is negative or not
 * an integer, or a side has no counts
 * @example
 * chiSquaredHomogeneity(new Map([['a', 120], ['b', 90], ['c', 40]]),
 *   new Map([['a', 100], ['b', 110], ['c', 60]]));
 * // => { statistic: 7.0594…, dof: 2, pValue: 0.029314…, categories: ['a', 'b', 'c'] }
 */
export function chiSquaredHomogeneity(
  reference: ReadonlyMap<string, number>,
  current: ReadonlyMap<string, number>,
): ChiSquaredResult {
  for (const [side, counts] of [
    ['reference', reference],
    ['current', current],
  ] as const) {
    for (const [category, count] of counts) {
      if (!Number.isInteger(count) || count < 0) {
        throw new Error(
          `chiSquaredHomogeneity: ${side} count of '${category}' must be a non-negative integer, got ${count}`,
        );
      }
    }
  }
  const categories = [...new Set([...reference.keys(), ...current.keys()])].filter(
    (c) => (reference.get(c) ?? 0) + (current.get(c) ?? 0) > 0,
  );
  const rows = [reference, current].map((side) => categories.map((c) => side.get(c) ?? 0));
  const rowTotals = rows.map((row) => row.reduce((s, v) => s + v, 0));
  if (rowTotals[0] === 0) throw new Error('chiSquaredHomogeneity: reference has no counts');
  if (rowTotals[1] === 0) throw new Error('chiSquaredHomogeneity: current has no counts');
  const dof = categories.length - 1;
  if (dof === 0) return { statistic: 0, dof: 0, pValue: 1, categories };

  const total = rowTotals[0]! + rowTotals[1]!;
  const columnTotals = categories.map((_, k) => rows[0]![k]! + rows[1]![k]!);
  let statistic = 0;
  rows.forEach((row, r) => {
    row.forEach((observed, k) => {
      const expected = (rowTotals[r]! * columnTotals[k]!) / total;
      statistic += (observed - expected) ** 2 / expected;
    });
  });
  return { statistic, dof, pValue: chiSquaredSf(statistic, dof), categories };
}
