import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

/**
 * The reference vectors of test/fixtures/drift/vectors.json, produced by
 * scripts/fixtures/drift/make_fixtures.py (SciPy / statsmodels / an explicit
 * numpy PSI; the command to regenerate them is at the top of that script).
 */

/** A sample: plain values (null = NaN), or values each repeated counts[i] times. */
export type StoredSample = (number | null)[] | { values: number[]; counts: number[] };

export interface Vectors {
  versions: Record<string, string>;
  psi: {
    name: string;
    reference: (number | null)[];
    current: (number | null)[];
    binCount: number;
    epsilon: number;
    psi: number;
    bins: {
      lower: number | null;
      upper: number | null;
      refShare: number;
      curShare: number;
      contribution: number;
    }[];
  }[];
  categoricalPsi: {
    name: string;
    reference: Record<string, number>;
    current: Record<string, number>;
    epsilon: number;
    psi: number;
    categories: { category: string; refShare: number; curShare: number; contribution: number }[];
  }[];
  ks: {
    name: string;
    n1: number;
    n2: number;
    method: 'exact' | 'asymptotic';
    statistic: number;
    pValue: number;
    kstwoPath?: string;
    reference: StoredSample;
    current: StoredSample;
  }[];
  kstwo: { n: number; x: number; sf: number; path: string }[];
  chi2: {
    name: string;
    reference: Record<string, number>;
    current: Record<string, number>;
    statistic: number;
    dof: number;
    pValue: number;
  }[];
  gammaincc: { a: number; x: number; q: number }[];
  multipletests: {
    name: string;
    pValues: number[];
    method: 'fdr_bh' | 'bonferroni';
    alpha: number;
    adjusted: number[];
    reject: boolean[];
  }[];
}

export const vectors: Vectors = JSON.parse(
  readFileSync(new URL('../../fixtures/drift/vectors.json', import.meta.url), 'utf8'),
);

/** The sample as a Float64Array (null becomes NaN, which the drift code counts as missing). */
export function expand(sample: StoredSample): Float64Array {
  if (Array.isArray(sample)) return Float64Array.from(sample, (v) => v ?? Number.NaN);
  const out: number[] = [];
  sample.values.forEach((v, i) => {
    for (let k = 0; k < sample.counts[i]!; k++) out.push(v);
  });
  return Float64Array.from(out);
}

export function countsMap(counts: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(counts));
}

/**
 * |actual − expected| ≤ rel·|expected| + abs. A relative bound, because the
 * p-values under test span 1 to 1e-217 and an absolute 1e-6 would accept any
 * small p-value for any other.
 */
export function expectClose(actual: number, expected: number, rel: number, abs = 0): void {
  const bound = rel * Math.abs(expected) + abs;
  if (!(Math.abs(actual - expected) <= bound)) {
    expect.fail(`expected ${actual} to be within ${bound} of ${expected} (rel ${rel}, abs ${abs})`);
  }
}
