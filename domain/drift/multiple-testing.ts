/**
 * Corrections for testing many features at once. With 50 features and no
 * drift at all, 50 tests at 5% flag about 2.5 features by chance; a
 * correction bounds that. Both functions return adjusted p-values and
 * rejections in the input order, with the same numbers and the same `≤`
 * rule as `statsmodels.stats.multitest.multipletests`.
 *
 * Reference: https://www.statsmodels.org/stable/generated/statsmodels.stats.multitest.multipletests.html
 */

export type Correction = 'bh' | 'bonferroni' | 'none';

export interface AdjustedPValues {
  /** Adjusted p-values, in the order of the input, capped at 1. */
  readonly adjusted: readonly number[];
  /** Whether each hypothesis is rejected at alpha. */
  readonly reject: readonly boolean[];
}

/**
 * Benjamini–Hochberg step-up procedure, which controls the false discovery
 * rate for independent or positively dependent tests (Benjamini & Hochberg
 * 1995, JRSS B 57(1), 289–300; `multipletests(method='fdr_bh')`). With the
 * p-values sorted, p(1) ≤ … ≤ p(m), the adjusted value of p(i) is
 * min_{j ≥ i} p(j) · m / j, capped at 1 — monotone in p, so tied p-values get
 * the same adjusted value; every p(i) up to the largest i with
 * p(i) ≤ alpha · i / m is rejected.
 *
 * @throws {Error} when a p-value is not in [0, 1] or alpha is not in (0, 1)
 * @example
 * benjaminiHochberg([0.01, 0.04, 0.03, 0.5]);
 * // => { adjusted: [0.04, 0.0533…, 0.0533…, 0.5], reject: [true, false, false, false] }
 */
export function benjaminiHochberg(pValues: readonly number[], alpha = 0.05): AdjustedPValues {
  check('benjaminiHochberg', pValues, alpha);
  const m = pValues.length;
  // Stable ascending order; ties may be in any order, the result does not depend on it.
  const order = pValues.map((_, i) => i).sort((i, j) => pValues[i]! - pValues[j]! || i - j);
  const adjusted = new Array<number>(m);
  const reject = new Array<boolean>(m).fill(false);
  let lastRejected = -1;
  let running = Number.POSITIVE_INFINITY;
  for (let rank = m - 1; rank >= 0; rank--) {
    const i = order[rank]!;
    const p = pValues[i]!;
    const factor = (rank + 1) / m;
    if (lastRejected < 0 && p <= factor * alpha) lastRejected = rank;
    running = Math.min(running, p / factor);
    adjusted[i] = Math.min(running, 1);
  }
  for (let rank = 0; rank <= lastRejected; rank++) reject[order[rank]!] = true;
  return { adjusted, reject };
}

/**
 * Bonferroni correction, which controls the family-wise error rate under any
 * dependence: adjusted p = min(p · m, 1), rejected when p ≤ alpha / m
 * (`multipletests(method='bonferroni')`). Conservative for many features.
 *
 * @throws {Error} when a p-value is not in [0, 1] or alpha is not in (0, 1)
 * @example
 * bonferroni([0.01, 0.04, 0.5]); // => { adjusted: [0.03, 0.12, 1], reject: [true, false, false] }
 */
export function bonferroni(pValues: readonly number[], alpha = 0.05): AdjustedPValues {
  check('bonferroni', pValues, alpha);
  const m = pValues.length;
  return {
    adjusted: pValues.map((p) => Math.min(p * m, 1)),
    reject: pValues.map((p) => p <= alpha / m),
  };
}

/**
 * Applies the named correction; 'none' returns the p-values unchanged,
 * rejected when p ≤ alpha.
 *
 * @example
 * adjustPValues([0.01, 0.04], 'bonferroni').adjusted; // => [0.02, 0.08]
 */
export function adjustPValues(
  pValues: readonly number[],
  correction: Correction,
  alpha = 0.05,
): AdjustedPValues {
  switch (correction) {
    case 'bh':
      return benjaminiHochberg(pValues, alpha);
    case 'bonferroni':
      return bonferroni(pValues, alpha);
    case 'none':
      check('adjustPValues', pValues, alpha);
      return { adjusted: [...pValues], reject: pValues.map((p) => p <= alpha) };
  }
}

function check(fn: string, pValues: readonly number[], alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`${fn}: alpha must be in (0, 1), got ${alpha}`);
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new Error(`${fn}: pValues[${i}] is ${p}, not a probability`);
  });
}
