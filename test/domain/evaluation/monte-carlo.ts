import { probit } from 'simple-statistics';

/**
 * Tolerance for comparing two independent bootstrap estimates of the same
 * percentile bound (ours with `resamples`, the reference with
 * `referenceResamples`): 4 standard errors of their difference. The standard
 * error of a sample q-quantile from B draws is √(q(1 − q)/B) / f(ξ_q); the
 * resampling distribution is taken as normal with the reference standard
 * error `se`, so f(ξ_q) = φ(z_q)/se. A discrete statistic (accuracy moves in
 * steps of 1/n) adds one lattice step. Documented in make_fixtures.py too.
 */
export function boundTolerance(
  se: number,
  q: number,
  resamples: number,
  referenceResamples: number,
  granularity: number,
): number {
  const z = probit(q);
  const density = Math.exp(-(z * z) / 2) / Math.sqrt(2 * Math.PI);
  return (
    ((4 * se * Math.sqrt(q * (1 - q))) / density) * Math.sqrt(1 / resamples + 1 / referenceResamples) +
    granularity
  );
}

/** 4 binomial standard errors of the difference of two estimated shares, plus 1e-4. */
export function pValueTolerance(p: number, resamples: number, referenceResamples: number): number {
  return 4 * Math.sqrt(p * (1 - p) * (1 / resamples + 1 / referenceResamples)) + 1e-4;
}
