import { expect } from 'vitest';

/**
 * Asserts |actual − expected| ≤ max(absolute, relative·|expected|): relative
 * for values that span orders of magnitude (p-values of 1e-45), absolute for
 * values near 0.
 */
export function expectClose(actual: number, expected: number, relative = 1e-9, absolute = 1e-12): void {
  const tolerance = Math.max(absolute, relative * Math.abs(expected));
  if (!(Math.abs(actual - expected) <= tolerance)) {
    expect.fail(`expected ${actual} to be within ${tolerance} of ${expected}`);
  }
}
