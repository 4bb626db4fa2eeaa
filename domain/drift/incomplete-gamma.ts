/**
 * The regularized upper incomplete gamma function and the chi-squared
 * survival function built on it, Numerical Recipes style (Press et al.,
 * "Numerical Recipes", 3rd ed., §6.2): the series for P(a, x) when
 * x < a + 1, Lentz's continued fraction for Q(a, x) otherwise — each
 * converges fast on its side — iterated to double precision. Tested to 1e-9
 * relative against `scipy.special.gammaincc`.
 */

const EPS = Number.EPSILON;
/** Near the smallest normal double: keeps Lentz's method away from 0/0. */
const FPMIN = Number.MIN_VALUE / EPS;
const MAX_ITERATIONS = 100_000;

// Lanczos approximation, g = 607/128, 15 terms (Godfrey's coefficients, as in
// Numerical Recipes 3rd ed. `gammln`, written as the doubles they round to):
// relative error below 1e-15 for x > 0.
const LANCZOS_G = 607 / 128;
const LANCZOS = [
  0.9999999999999971, 57.15623566586292, -59.59796035547549, 14.136097974741746, -0.4919138160976202,
  3.399464998481189e-5, 4.652362892704858e-5, -9.837447530487956e-5, 1.580887032249125e-4,
  -2.1026444172410488e-4, 2.1743961811521265e-4, -1.643181065367639e-4, 8.441822398385275e-5,
  -2.6190838401581408e-5, 3.6899182659531625e-6,
];

/**
 * ln Γ(x) for x > 0.
 *
 * @throws {Error} when x is not positive
 * @example
 * logGamma(5); // => 3.178053830347945 (ln 24)
 */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new Error(`logGamma: x must be positive, got ${x}`);
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (x + i);
  const t = x + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum / x);
}

/**
 * Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma function
 * (`scipy.special.gammaincc(a, x)`).
 *
 * @throws {Error} when a ≤ 0, x < 0 or either is NaN, or the iteration does not converge
 * @example
 * gammaQ(1, 2); // => 0.13533528323661276 (e^-2)
 */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new Error(`gammaQ: a must be positive, got ${a}`);
  if (!(x >= 0)) throw new Error(`gammaQ: x must be ≥ 0, got ${x}`);
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return x < a + 1 ? 1 - lowerSeries(a, x) : upperContinuedFraction(a, x);
}

/**
 * P(X ≥ x) for X ~ χ²(dof): Q(dof/2, x/2) (`scipy.stats.chi2.sf(x, dof)`).
 *
 * @throws {Error} when dof is not positive or x is NaN
 * @example
 * chiSquaredSf(3.841458820694124, 1); // => 0.05000000000000011 (the 95% quantile of χ²(1))
 */
export function chiSquaredSf(x: number, dof: number): number {
  if (!(dof > 0)) throw new Error(`chiSquaredSf: dof must be positive, got ${dof}`);
  if (Number.isNaN(x)) throw new Error('chiSquaredSf: x is NaN');
  return x <= 0 ? 1 : gammaQ(dof / 2, x / 2);
}

/** ln of the common factor e^(−x) x^a / Γ(a). */
function logPrefactor(a: number, x: number): number {
  return -x + a * Math.log(x) - logGamma(a);
}

/** P(a, x) = e^(−x) x^a / Γ(a) · Σ_{n≥0} x^n / (a (a+1) … (a+n)). */
function lowerSeries(a: number, x: number): number {
  let ap = a;
  let term = 1 / a;
  let sum = term;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) return sum * Math.exp(logPrefactor(a, x));
  }
  throw new Error(`gammaQ: series did not converge for a=${a}, x=${x}`);
}

/**
 * Q(a, x) = e^(−x) x^a / Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− 2·(2−a)/(x+5−a− …))),
 * evaluated by the modified Lentz method.
 */
function upperContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) return Math.exp(logPrefactor(a, x)) * h;
  }
  throw new Error(`gammaQ: continued fraction did not converge for a=${a}, x=${x}`);
}
