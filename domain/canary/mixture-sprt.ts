import { type Alternative, normalCdf } from './normal';
import { checkProportion, type ProportionSample } from './two-proportion-z-test';

/**
 * Mixture sequential probability ratio test (mSPRT) with a normal mixture,
 * after Johari, Pekelis & Walsh, "Always valid inference: continuous
 * monitoring of A/B tests" (Operations Research, 2022; arXiv:1512.04922),
 * in the Gaussian form used for A/B tests: an estimate θ̂ that is
 * approximately N(θ, σ²), tested against H0: θ = θ0.
 *
 * The likelihood ratio of θ against θ0, averaged over θ ~ N(θ0, τ²), is a
 * non-negative martingale under H0, so by Ville's inequality it exceeds 1/α
 * at ANY look with probability at most α. Hence p_n = min(p_{n−1}, 1/Λ_n) is
 * an always-valid p-value: one may look after every batch and stop as soon as
 * p_n ≤ α without inflating false alarms. The smallest p seen so far is the
 * state that must be carried from look to look (`alwaysValidPValue`).
 */

export interface MixtureSprtResult {
  /** ln Λ, the log of the mixture likelihood ratio (can be large; Λ itself may overflow). */
  readonly logLikelihoodRatio: number;
  /** min(1, 1/Λ) at this look alone; take the running minimum across looks. */
  readonly pValue: number;
}

/**
 * The normal-mixture likelihood ratio for an estimate with variance σ²,
 * writing d = θ̂ − θ0 and v = σ² + τ²:
 *   two-sided (θ ~ N(θ0, τ²)):     Λ = √(σ²/v) · exp(τ²·d² / (2σ²·v))
 *   'greater' (θ − θ0 ~ half-normal on (0, ∞)): Λ = 2·Φ(d·τ/(σ·√v)) · √(σ²/v) · exp(τ²·d² / (2σ²·v))
 *   'less' mirrors 'greater' with −d.
 * The one-sided forms integrate the likelihood ratio against the half-normal
 * prior; since it puts weight only where the alternative lies, Λ grows faster
 * there than the symmetric mixture's, and under θ ≤ θ0 it is a supermartingale,
 * so the composite one-sided null keeps its guarantee.
 *
 * @throws {Error} when variance or tau is not positive and finite, or an input is NaN
 * @example
 * normalMixtureSprt({ estimate: 0.02, variance: 5.8e-5, tau: 0.03, alternative: 'greater' });
 * // => { logLikelihoodRatio: 2.52497967134486, pValue: 0.08005994028109462 }
 */
export function normalMixtureSprt(input: {
  estimate: number;
  variance: number;
  tau: number;
  nullValue?: number;
  alternative?: Alternative;
}): MixtureSprtResult {
  const { estimate, variance, tau } = input;
  const nullValue = input.nullValue ?? 0;
  const alternative = input.alternative ?? 'two-sided';
  if (Number.isNaN(estimate) || Number.isNaN(nullValue))
    throw new Error('normalMixtureSprt: estimate is NaN');
  if (!(variance > 0 && Number.isFinite(variance))) {
    throw new Error(`normalMixtureSprt: variance must be positive and finite, got ${variance}`);
  }
  if (!(tau > 0 && Number.isFinite(tau))) {
    throw new Error(`normalMixtureSprt: tau must be positive and finite, got ${tau}`);
  }
  const d = estimate - nullValue;
  const tau2 = tau * tau;
  const v = variance + tau2;
  let logLikelihoodRatio = 0.5 * Math.log(variance / v) + (tau2 * d * d) / (2 * variance * v);
  if (alternative !== 'two-sided') {
    const signed = alternative === 'greater' ? d : -d;
    logLikelihoodRatio += Math.log(2 * normalCdf((signed * tau) / Math.sqrt(variance * v)));
  }
  return { logLikelihoodRatio, pValue: Math.min(1, Math.exp(-logLikelihoodRatio)) };
}

export interface TwoProportionSprtResult extends MixtureSprtResult {
  /** p̂1 − p̂2. */
  readonly difference: number;
  /** σ² of the difference, from the smoothed proportions (see twoProportionMixtureSprt). */
  readonly variance: number;
}

/**
 * The mSPRT on the difference of two proportions p1 − p2 against
 * H0: p1 − p2 = nullDifference (one-sided: ≤ for 'greater'). The estimate is
 * p̂1 − p̂2 = x1/n1 − x2/n2; its variance is the unpooled
 * p̃1(1 − p̃1)/n1 + p̃2(1 − p̃2)/n2 with p̃ = (x + ½)/(n + 1), the proportion
 * nudged half an event towards ½ so that a sample with no events (the usual
 * case for error rates early in a canary) does not claim zero variance and
 * an infinite likelihood ratio. Unequal sample sizes (10 % canary traffic)
 * need no special case: only the estimate's variance enters.
 *
 * @throws {Error} when counts are not integers with 0 ≤ events ≤ trials and trials ≥ 1, or tau is not positive
 * @example
 * twoProportionMixtureSprt({ events: 12, trials: 30 }, { events: 0, trials: 270 },
 *   { nullDifference: 0.05, tau: 0.03, alternative: 'greater' });
 * // => { difference: 0.4, variance: 0.00802797…, logLikelihoodRatio: 1.29546686…, pValue: 0.27377001… }
 */
export function twoProportionMixtureSprt(
  first: ProportionSample,
  second: ProportionSample,
  options: { tau: number; nullDifference?: number; alternative?: Alternative },
): TwoProportionSprtResult {
  checkProportion('twoProportionMixtureSprt', 'first', first);
  checkProportion('twoProportionMixtureSprt', 'second', second);
  const difference = first.events / first.trials - second.events / second.trials;
  const variance = smoothedVariance(first) + smoothedVariance(second);
  const result = normalMixtureSprt({
    estimate: difference,
    variance,
    tau: options.tau,
    nullValue: options.nullDifference ?? 0,
    alternative: options.alternative ?? 'two-sided',
  });
  return { ...result, difference, variance };
}

function smoothedVariance(s: ProportionSample): number {
  const p = (s.events + 0.5) / (s.trials + 1);
  return (p * (1 - p)) / s.trials;
}

/**
 * The always-valid p-value after a new look: the smaller of the previous one
 * (1 before the first look) and this look's 1/Λ. Never increases, so a
 * decision once reached stays reached.
 *
 * @throws {Error} when either value is outside [0, 1]
 * @example
 * alwaysValidPValue(0.2, 0.5); // => 0.2
 * alwaysValidPValue(undefined, 0.03); // => 0.03
 */
export function alwaysValidPValue(previous: number | undefined, current: number): number {
  const before = previous ?? 1;
  if (!(before >= 0 && before <= 1) || !(current >= 0 && current <= 1)) {
    throw new Error(`alwaysValidPValue: p-values must be in [0, 1], got ${previous} and ${current}`);
  }
  return Math.min(before, current);
}
