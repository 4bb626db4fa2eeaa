import { type Alternative, normalPValue } from './normal';

/**
 * Two-sample z-test for the difference of two proportions p1 − p2, as the
 * canary uses it for error rates and labelled accuracy.
 * References: https://en.wikipedia.org/wiki/Two-proportion_Z-test;
 * statsmodels `proportions_ztest` (pooled) and `test_proportions_2indep(method='wald')`.
 */

/** `events` out of `trials` Bernoulli observations (errors out of requests, correct out of labelled). */
export interface ProportionSample {
  readonly events: number;
  readonly trials: number;
}

export interface TwoProportionZTestResult {
  /** p̂1 − p̂2. */
  readonly difference: number;
  readonly standardError: number;
  /** (p̂1 − p̂2 − nullDifference) / standardError; ±Infinity when the standard error is 0 and the estimate is off the null. */
  readonly z: number;
  readonly pValue: number;
  /** Whether the standard error used the pooled proportion (only when nullDifference is 0). */
  readonly pooled: boolean;
}

/**
 * Tests H0: p1 − p2 = nullDifference (for one-sided alternatives, ≤ or ≥).
 * With nullDifference 0 the standard error uses the pooled proportion
 * p̄ = (x1 + x2)/(n1 + n2): √(p̄(1 − p̄)(1/n1 + 1/n2)), as statsmodels'
 * `proportions_ztest(count, nobs)`. A non-zero null difference (a margin)
 * cannot share one proportion, so the standard error is the unpooled Wald one
 * √(p̂1(1 − p̂1)/n1 + p̂2(1 − p̂2)/n2), as `test_proportions_2indep(...,
 * value=δ, method='wald')`. A zero standard error (every observation the same)
 * gives z = 0 and p = 1 when the estimate equals the null, else z = ±Infinity.
 *
 * @throws {Error} when counts are not integers with 0 ≤ events ≤ trials and trials ≥ 1,
 * or nullDifference is outside [−1, 1]
 * @example
 * twoProportionZTest({ events: 40, trials: 1000 }, { events: 20, trials: 1000 }, { alternative: 'greater' });
 * // => { difference: 0.02, standardError: 0.0076288…, z: 2.6216125…, pValue: 0.0043757…, pooled: true }
 */
export function twoProportionZTest(
  first: ProportionSample,
  second: ProportionSample,
  options: { alternative?: Alternative; nullDifference?: number } = {},
): TwoProportionZTestResult {
  const alternative = options.alternative ?? 'two-sided';
  const nullDifference = options.nullDifference ?? 0;
  checkProportion('twoProportionZTest', 'first', first);
  checkProportion('twoProportionZTest', 'second', second);
  if (!(nullDifference >= -1 && nullDifference <= 1)) {
    throw new Error(`twoProportionZTest: nullDifference must be in [-1, 1], got ${nullDifference}`);
  }
  const p1 = first.events / first.trials;
  const p2 = second.events / second.trials;
  const difference = p1 - p2;
  const pooled = nullDifference === 0;
  let variance: number;
  if (pooled) {
    const p = (first.events + second.events) / (first.trials + second.trials);
    variance = p * (1 - p) * (1 / first.trials + 1 / second.trials);
  } else {
    variance = (p1 * (1 - p1)) / first.trials + (p2 * (1 - p2)) / second.trials;
  }
  const standardError = Math.sqrt(variance);
  const offset = difference - nullDifference;
  const z = standardError > 0 ? offset / standardError : offset === 0 ? 0 : Math.sign(offset) * Infinity;
  // No spread and no difference: the data cannot speak against H0 in any direction.
  const pValue = standardError === 0 && offset === 0 ? 1 : normalPValue(z, alternative);
  return { difference, standardError, z, pValue, pooled };
}

/** Throws unless the sample is a count of events out of at least one trial. */
export function checkProportion(fn: string, role: string, s: ProportionSample): void {
  if (!Number.isInteger(s.events) || !Number.isInteger(s.trials) || s.trials < 1) {
    throw new Error(
      `${fn}: ${role} needs integer counts with at least one trial, got ${s.events}/${s.trials}`,
    );
  }
  if (s.events < 0 || s.events > s.trials) {
    throw new Error(`${fn}: ${role} events must be in [0, trials], got ${s.events}/${s.trials}`);
  }
}
