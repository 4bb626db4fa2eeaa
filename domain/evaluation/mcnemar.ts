import { binomialCdf, chiSquared1Survival } from './special-functions';

/**
 * McNemar's test: do champion and candidate, scored on the SAME rows, have
 * the same accuracy? Only the discordant rows carry information:
 *   b = rows the champion gets right and the candidate gets wrong,
 *   c = rows the champion gets wrong and the candidate gets right.
 * Under the null hypothesis each discordant row is a fair coin, b ~ Binomial(b + c, ½).
 * Reference: https://en.wikipedia.org/wiki/McNemar%27s_test;
 * statsmodels: https://www.statsmodels.org/stable/generated/statsmodels.stats.contingency_tables.mcnemar.html
 */

export interface McNemarResult {
  /** Champion right, candidate wrong. */
  readonly b: number;
  /** Champion wrong, candidate right. */
  readonly c: number;
  /** 'exact': min(b, c), the binomial test's statistic (as statsmodels reports it); 'chi2-cc': (|b − c| − 1)² / (b + c). */
  readonly statistic: number;
  /** Two-sided p-value of "the two models are equally accurate". */
  readonly pValue: number;
  readonly method: 'exact' | 'chi2-cc';
}

/**
 * Below this many discordant pairs the p-value is the exact binomial one.
 * The chi-squared approximation needs an expected count of about 12 or more
 * in each discordant cell, hence the textbook rule b + c < 25 → exact
 * (Wikipedia's McNemar article; the cut-off people pair with statsmodels'
 * `mcnemar(table, exact=b + c < 25)`). Above it the approximation with
 * Edwards' continuity correction is within a few per cent of the exact
 * p-value, and it is the statistic reports and papers quote.
 */
export const MCNEMAR_EXACT_BELOW = 25;

export type McNemarInput =
  | { readonly b: number; readonly c: number }
  | { readonly championCorrect: ArrayLike<Correct>; readonly candidateCorrect: ArrayLike<Correct> };

/** Whether a row was predicted correctly: a boolean, or 1/0 (e.g. a Uint8Array). */
export type Correct = boolean | number;

/**
 * McNemar's test on paired correctness, from the discordant counts or from
 * one boolean (or 1/0) per row for each model. With b + c < 25 the p-value is the
 * exact two-sided binomial one, min(1, 2·P(X ≤ min(b, c))) with
 * X ~ Binomial(b + c, ½); otherwise it is the chi-squared (1 dof) tail of
 * (|b − c| − 1)² / (b + c). Like statsmodels, the corrected statistic is not
 * clipped at 0, so b = c gives 1/(b + c), not 0. No discordant pairs: p = 1.
 * `exact` forces one method (statsmodels' `exact=` argument).
 *
 * @throws {Error} when counts are not non-negative integers or the arrays differ in length
 * @example
 * mcnemar({ b: 5, c: 15 });
 * // => { b: 5, c: 15, statistic: 5, pValue: 0.04138946533203125, method: 'exact' }
 * mcnemar({ b: 40, c: 70 });
 * // => { b: 40, c: 70, statistic: 7.6454…, pValue: 0.005691…, method: 'chi2-cc' }
 */
export function mcnemar(input: McNemarInput, options: { exact?: boolean } = {}): McNemarResult {
  const { b, c } = 'b' in input ? checkCounts(input.b, input.c) : discordantCounts(input);
  const n = b + c;
  const exact = options.exact ?? n < MCNEMAR_EXACT_BELOW;
  if (exact) {
    const statistic = Math.min(b, c);
    const pValue = n === 0 ? 1 : Math.min(1, 2 * binomialCdf(statistic, n, 0.5));
    return { b, c, statistic, pValue, method: 'exact' };
  }
  if (n === 0) return { b, c, statistic: 0, pValue: 1, method: 'chi2-cc' };
  const statistic = (Math.abs(b - c) - 1) ** 2 / n;
  return { b, c, statistic, pValue: chiSquared1Survival(statistic), method: 'chi2-cc' };
}

/**
 * The discordant counts of two paired correctness vectors.
 *
 * @throws {Error} when the arrays differ in length
 * @example
 * discordantCounts({ championCorrect: [true, true, false, false], candidateCorrect: [true, false, true, true] });
 * // => { b: 1, c: 2 }
 */
export function discordantCounts(input: {
  readonly championCorrect: ArrayLike<Correct>;
  readonly candidateCorrect: ArrayLike<Correct>;
}): { b: number; c: number } {
  const { championCorrect, candidateCorrect } = input;
  if (championCorrect.length !== candidateCorrect.length) {
    throw new Error(
      `mcnemar: championCorrect and candidateCorrect must have the same length (${championCorrect.length} vs ${candidateCorrect.length})`,
    );
  }
  let b = 0;
  let c = 0;
  for (let i = 0; i < championCorrect.length; i++) {
    const champion = Boolean(championCorrect[i]);
    if (champion !== Boolean(candidateCorrect[i])) {
      if (champion) b++;
      else c++;
    }
  }
  return { b, c };
}

/**
 * The smallest p-value `mcnemar` can return with this many discordant pairs,
 * reached when they all fall on one side: exact 2·½ⁿ below 25 pairs. With
 * n ≤ 5 it is ≥ 0.0625: no split of the pairs is significant at 0.05, so a
 * gate calls such a comparison too small rather than "not better".
 *
 * @example
 * mcnemarSmallestPValue(5); // => 0.0625
 */
export function mcnemarSmallestPValue(discordant: number): number {
  return mcnemar({ b: 0, c: discordant }).pValue;
}

function checkCounts(b: number, c: number): { b: number; c: number } {
  for (const [name, value] of [
    ['b', b],
    ['c', c],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`mcnemar: ${name} must be a non-negative integer, got ${value}`);
    }
  }
  return { b, c };
}
