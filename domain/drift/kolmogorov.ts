/**
 * The distribution of the one-sample Kolmogorov–Smirnov statistic D_n for a
 * finite n: what `scipy.stats.kstwo` computes, and so what `ks_2samp`'s
 * asymptotic path evaluates at n = round(n1·n2 / (n1 + n2)). The method is
 * chosen per (n, x) as Simard & L'Ecuyer recommend and as SciPy does
 * (scipy/stats/_ksstats.py `_kolmogn`): Ruben–Gambino closed forms at the
 * ends, 2·Smirnov for large x, the Durbin matrix for small n·x², Pelz–Good
 * otherwise. One deliberate difference: where SciPy uses Pomeranz's recursion
 * (n ≤ 140, 0.754693 < n·x² ≤ 4) this uses the Durbin matrix, which computes
 * the same exact probability (the two agree to ~1e-11 relative in the tests).
 *
 * References: Simard, R., L'Ecuyer, P. (2011) "Computing the Two-Sided
 * Kolmogorov–Smirnov Distribution", J. Stat. Softw. 39(11); Marsaglia, G.,
 * Tsang, W. W., Wang, J. (2003) "Evaluating Kolmogorov's Distribution",
 * J. Stat. Softw. 8(18); Pelz, W., Good, I. J. (1976) JRSS B 38(2), 152–156;
 * Birnbaum, Z. W., Tingey, F. H. (1951) Ann. Math. Statist. 22(4), 592–596.
 */

const SQRT_2PI = Math.sqrt(2 * Math.PI);
const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;
/** ln of the smallest normal double; exp() of less underflows. */
const MIN_LOG = -708.3964185322641;
/** Above this n, Smirnov's sum is replaced by its asymptotic form (as in SciPy's xsf). */
const SMIRNOV_MAX_EXACT_N = 1_000_000;
const SCALE = 2 ** 128;

/**
 * P(D_n ≥ x) for the two-sided one-sample KS statistic (`scipy.stats.kstwo.sf(x, n)`).
 *
 * @throws {Error} when n is not a positive integer
 * @example
 * kolmogorovSmirnovSf(10, 0.3); // => 0.270535574…, as scipy.stats.kstwo.sf(0.3, 10)
 */
export function kolmogorovSmirnovSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`kolmogorovSmirnovSf: n must be a positive integer, got ${n}`);
  }
  if (Number.isNaN(x)) return Number.NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    // Ruben–Gambino: for 1/(2n) ≤ x ≤ 1/n, P(D_n ≤ x) = n!/nⁿ · (2t − 1)ⁿ.
    if (t <= 0.5) return 1;
    let cdf: number;
    if (n <= 140) {
      cdf = 1;
      for (let i = 1; i <= n; i++) cdf *= i * (1 / n) * (2 * t - 1);
    } else {
      cdf = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    }
    return clip(1 - cdf);
  }
  if (t >= n - 1) return clip(2 * (1 - x) ** n);
  // For x ≥ 0.5 the two one-sided events cannot both happen: P = 2 P(D⁺ ≥ x) exactly.
  if (x >= 0.5) return clip(2 * smirnovSf(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    return nx2 <= 4 ? clip(1 - durbinCdf(n, x)) : clip(2 * smirnovSf(n, x));
  }
  if (nx2 >= 370) return 0;
  // In this upper tail the overlap of the two one-sided events is below double precision.
  if (nx2 >= 2.2) return clip(2 * smirnovSf(n, x));
  const cdf = n <= 100_000 && n * x ** 1.5 <= 1.4 ? durbinCdf(n, x) : pelzGoodCdf(n, x);
  return clip(1 - cdf);
}

/**
 * P(D⁺_n ≥ x) for the one-sided statistic (`scipy.special.smirnov(n, x)`),
 * by Birnbaum and Tingey's sum
 *   x · Σ_{v=0}^{⌊n(1−x)⌋} C(n,v) (x + v/n)^(v−1) (1 − x − v/n)^(n−v),
 * whose terms are all positive (no cancellation); each term is evaluated in
 * logs, so n in the hundreds of thousands neither overflows nor underflows.
 *
 * @throws {Error} when n is not a positive integer
 * @example
 * smirnovSf(5, 0.5); // => 0.056, as scipy.special.smirnov(5, 0.5)
 */
export function smirnovSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`smirnovSf: n must be a positive integer, got ${n}`);
  }
  if (!(x >= 0 && x <= 1)) return Number.NaN;
  if (n === 1) return 1 - x;
  if (x === 0) return 1;
  if (x === 1) return 0;
  const nx = n * x;
  if (nx <= 1) return clip(1 - x * (1 + x) ** (n - 1));
  if (-2 * n * x * x < MIN_LOG) return 0;
  if (Math.floor(nx) >= n - 1) return clip((1 - x) ** n);
  if (n > SMIRNOV_MAX_EXACT_N) {
    const logp = -((6 * nx + 1) ** 2) / 18 / n;
    return logp < -Math.LN2 ? Math.exp(logp) : 1 + Math.expm1(logp);
  }
  const last = Math.floor(n - nx);
  // ln C(n, v), updated term by term with Kahan compensation: over 1e5 terms
  // the plain running sum would drift by ~1e-10.
  let logBinom = 0;
  let compensation = 0;
  let sum = 0;
  let peaked = false;
  let previous = 0;
  for (let v = 0; v <= last; v++) {
    const upper = (n - v - nx) / n; // 1 − x − v/n
    if (upper > 0) {
      const lower = (nx + v) / n; // x + v/n
      const term = Math.exp(logBinom + (v - 1) * Math.log(lower) + (n - v) * Math.log1p(-lower));
      sum += term;
      if (term < previous) peaked = true;
      // Past the peak the terms only shrink: stop once the rest cannot change the sum.
      if (peaked && 4 * (last - v) * term < Number.EPSILON * sum) break;
      previous = term;
    }
    const step = Math.log((n - v) / (v + 1)) - compensation;
    const next = logBinom + step;
    compensation = next - logBinom - step;
    logBinom = next;
  }
  return clip(x * sum);
}

/**
 * P(D_n < d) by Durbin's matrix formula as Marsaglia, Tsang and Wang compute
 * it: with k = ⌈n·d⌉, h = k − n·d and m = 2k − 1, the answer is
 * n!/nⁿ · (Hⁿ)_{k,k} for an m×m matrix H of powers of h over factorials.
 * Hⁿ by repeated squaring, rescaled by 2¹²⁸ whenever it grows, with the
 * exponent kept apart. O(m³ log n).
 */
function durbinCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  // v[j] = (1 − h^(j+1)) / (j+1)!, the first column; invFact[j] = 1/j!.
  const v = new Float64Array(m);
  const invFact = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    invFact[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  v[m - 1] = (1 + (Math.max(2 * h - 1, 0) ** m - 2 * h ** m)) * fac;
  let H: Float64Array = new Float64Array(m * m);
  for (let i = 1; i < m; i++) {
    for (let r = i - 1; r < m; r++) H[r * m + i] = invFact[r - i + 1]!;
  }
  for (let r = 0; r < m; r++) H[r * m] = v[r]!;
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c]!;

  let power: Float64Array = identity(m);
  let exponent = 0;
  let hExponent = 0;
  for (let e = n; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) {
      power = multiply(power, H, m);
      exponent += hExponent;
    }
    H = multiply(H, H, m);
    hExponent *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]!) > SCALE) {
      for (let i = 0; i < H.length; i++) H[i] = H[i]! / SCALE;
      hExponent += 128;
    }
  }
  let p = power[(k - 1) * m + (k - 1)]!;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < 1 / SCALE) {
      p *= SCALE;
      exponent -= 128;
    }
  }
  return clip(p * 2 ** exponent);
}

/**
 * P(D_n ≤ x) by Pelz and Good's expansion K0 + K1/√n + K2/n + K3/n^1.5 of
 * Li-Chien's and Korolyuk's series, transformed by Jacobi's theta identity
 * into sums over q = exp(−π²/(8z²)), z = x√n, that converge fast for small z.
 */
function pelzGoodCdf(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  const q = Math.exp(qlog);
  const maxk = Math.ceil((16 * z) / Math.PI);
  // Σ_k c_i(k) q^((2k−1)²) by Horner in q^(8k), for the four terms at once.
  const K = [0, 0, 0, 0];
  for (let k = maxk; k >= 1; k--) {
    const m2 = (2 * k - 1) ** 2;
    const qpower = q ** (8 * k);
    const coeffs = [
      1,
      -z2 + (PI2 / 4) * m2,
      6 * z6 + 2 * z4 + (((2 * z4 - 5 * z2) * PI2) / 4) * m2 + ((PI4 * (1 - 2 * z2)) / 16) * m2 * m2,
      -30 * z6 -
        90 * z ** 8 +
        ((PI2 * (135 * z4 - 96 * z6)) / 4) * m2 +
        ((PI4 * (-60 * z2 + 212 * z4)) / 16) * m2 * m2 +
        ((PI6 * (5 - 30 * z2)) / 64) * m2 * m2 * m2,
    ];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qpower + coeffs[i]!;
  }
  const divisors = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * SQRT_2PI) / divisors[i]!;
  // The remaining sums over all k ≥ 1 of k² q'^(k²), q' = exp(−π²/(2z²)).
  const q2 = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k >= 1; k--) {
    const w = k * k * q2 ** (k * k);
    k2extra += w;
    k3extra += (Math.sqrt(3) * z + Math.PI * k) * (Math.sqrt(3) * z - Math.PI * k) * w;
  }
  K[2] = K[2]! + (k2extra * PI2 * SQRT_2PI) / (-36 * z2 * z);
  K[3] = K[3]! + (k3extra * PI2 * SQRT_2PI) / (216 * z6);
  return K[0]! + K[1]! / Math.sqrt(n) + K[2]! / n + K[3]! / n ** 1.5;
}

/** ln(n!/nⁿ) by Stirling's series with the Bernoulli terms up to B₁₆. */
function logFactorialOverPower(n: number): number {
  // B_2j / (2j (2j − 1)), j = 1 … 8
  const c = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400];
  const r2 = 1 / (n * n);
  let series = 0;
  for (let j = c.length - 1; j >= 0; j--) series = series * r2 + c[j]!;
  return Math.log(n) / 2 - n + Math.log(2 * Math.PI) / 2 + series / n;
}

function identity(m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) out[i * m + i] = 1;
  return out;
}

function multiply(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < m; l++) {
      const ail = a[i * m + l]!;
      if (ail === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] = out[i * m + j]! + ail * b[l * m + j]!;
    }
  }
  return out;
}

function clip(p: number): number {
  return Math.min(1, Math.max(0, p));
}
