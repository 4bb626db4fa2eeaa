/**
 * Numbers as the gate's reasons print them: metric values and differences
 * with 4 decimals (a hold-out set of 10,000 rows moves accuracy in steps of
 * 0.0001), p-values with 3 significant digits, tiny ones in exponent form.
 */

/**
 * @example
 * formatValue(0.87); // => '0.8700'
 */
export function formatValue(x: number, digits = 4): string {
  return x.toFixed(digits);
}

/**
 * @example
 * formatSigned(0.05); // => '+0.0500'
 * formatSigned(-0.024); // => '-0.0240'
 */
export function formatSigned(x: number, digits = 4): string {
  const text = x.toFixed(digits);
  return x >= 0 ? `+${text}` : text;
}

/**
 * @example
 * formatP(0.04138946533203125); // => '0.0414'
 * formatP(2.07e-9); // => '2.1e-9'
 */
export function formatP(p: number): string {
  if (p === 0) return '0';
  return p >= 0.001 ? String(Number(p.toPrecision(3))) : p.toExponential(1);
}

/**
 * @example
 * formatInterval({ lower: -0.0012, upper: 0.031 }); // => '[-0.0012, +0.0310]'
 */
export function formatInterval(interval: { readonly lower: number; readonly upper: number }): string {
  return `[${formatSigned(interval.lower)}, ${formatSigned(interval.upper)}]`;
}
