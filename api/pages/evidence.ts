/**
 * The numbers the decision page draws that the stored reports do not hold
 * as intervals: pure, so that they are tested on known values.
 */

const Z95 = 1.959963984540054;

/**
 * Wilson score interval of a proportion (95 %): sound near 0 and 1 and for
 * small n, unlike the normal approximation.
 *
 * @example wilsonInterval(0.89, 300) // => { lower: 0.849…, upper: 0.920… }
 */
export function wilsonInterval(p: number, n: number, z = Z95): { lower: number; upper: number } | null {
  if (!(n > 0) || !(p >= 0 && p <= 1)) return null;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

/**
 * 95 % interval of the paired accuracy difference (candidate − champion) from
 * McNemar's discordant counts: b = champion right and candidate wrong,
 * c = the reverse, over n pairs. Wald form of the paired difference,
 * variance ((b + c) − (c − b)²/n) / n².
 *
 * @example pairedAccuracyInterval(20, 93, 300) // => { estimate: 0.2433…, lower: 0.18…, upper: 0.30… }
 */
export function pairedAccuracyInterval(
  b: number,
  c: number,
  n: number,
  z = Z95,
): { estimate: number; lower: number; upper: number } | null {
  if (!(n > 0) || b < 0 || c < 0 || b + c > n) return null;
  const estimate = (c - b) / n;
  const variance = (b + c - ((c - b) * (c - b)) / n) / (n * n);
  const half = z * Math.sqrt(Math.max(0, variance));
  return { estimate, lower: estimate - half, upper: estimate + half };
}
