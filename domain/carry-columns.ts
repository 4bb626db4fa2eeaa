/**
 * Pieces for state carried across continue-as-new column by column
 * (domain/trigger-governance.ts `DedupCarry`, domain/trigger-ledger.ts
 * `LedgerCarry`): a table of distinct values referred to by index, and times
 * written as differences. Deterministic, and safe inside a workflow.
 */

/** Distinct values in the order first seen, each with its index in `values`. */
export class Interned<T> {
  readonly values: T[] = [];
  private readonly indexes = new Map<string, number>();

  /** The index of the value known by `key`, adding `value` the first time. */
  indexOf(key: string, value: T): number {
    let index = this.indexes.get(key);
    if (index === undefined) {
      index = this.values.push(value) - 1;
      this.indexes.set(key, index);
    }
    return index;
  }
}

/** Each number minus the one before it (the first as it is): sorted times become small numbers. */
export function differences(xs: readonly number[]): number[] {
  return xs.map((x, i) => x - (i === 0 ? 0 : xs[i - 1]!));
}

/** The numbers `differences` was given back. */
export function runningSums(xs: readonly number[]): number[] {
  let sum = 0;
  return xs.map((x) => {
    sum += x;
    return sum;
  });
}
