import { type ZodError, type ZodType, z } from 'zod';

/**
 * Ranges for policy numbers, and the one way a stored policy that breaks
 * them is read back. A policy value reaches timers, `new Date(...)` and loop
 * counts inside workflows, where an absurd value (a cooldown of 1e300 s) is
 * not a bad request but a workflow task that fails on every retry. So every
 * number of a policy has a range, checked where the policy enters (the API),
 * and a message that names the range, e.g. `must be from 0 to 2592000
 * seconds (30 days); got 1e+300`.
 */

import { DAY, HOUR, MINUTE } from './units';

export { DAY, HOUR, MINUTE };

export interface NumberRange {
  readonly min: number;
  readonly max: number;
  /** The bound itself is outside the range (a p-value in (0, 1)). */
  readonly minExclusive?: boolean;
  readonly maxExclusive?: boolean;
  readonly integer?: boolean;
  /** Printed after the numbers; `seconds` also prints the maximum in days, hours or minutes. */
  readonly unit?: 'seconds' | 'ms' | '%' | 'days';
}

/** `2592000 seconds (30 days)`, `600 seconds (10 minutes)`; other units plainly. */
export function withUnit(value: number, unit: NumberRange['unit']): string {
  if (unit === undefined) return String(value);
  if (unit === '%') return `${value} %`;
  if (unit === 'ms') return `${value} ms`;
  if (unit === 'days') return `${value} days`;
  return `${value} seconds${readableDuration(value)}`;
}

function readableDuration(seconds: number): string {
  for (const [size, name] of [
    [DAY, 'day'],
    [HOUR, 'hour'],
    [MINUTE, 'minute'],
  ] as const) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return ` (${n} ${name}${n === 1 ? '' : 's'})`;
    }
  }
  return '';
}

/**
 * The range in words, as error messages and docs/policy.md print it.
 *
 * @example
 * describeRange({ min: 0, max: 2_592_000, unit: 'seconds' }); // => 'from 0 to 2592000 seconds (30 days)'
 * describeRange({ min: 0, max: 1, minExclusive: true, maxExclusive: true }); // => 'greater than 0 and less than 1'
 */
export function describeRange(r: NumberRange): string {
  const kind = r.integer ? 'an integer ' : '';
  const max = withUnit(r.max, r.unit);
  if (!r.minExclusive && !r.maxExclusive) return `${kind}from ${r.min} to ${max}`;
  const low = r.minExclusive ? `greater than ${r.min}` : `at least ${r.min}`;
  const high = r.maxExclusive ? `less than ${max}` : `at most ${max}`;
  return `${kind}${low} and ${high}`;
}

const shown = (input: unknown) =>
  typeof input === 'number' ? String(input) : input === undefined ? 'nothing' : JSON.stringify(input);

/** A number schema for the range; every violation (type, bound, integer) gets the same message. */
export function inRange(r: NumberRange) {
  const error = (issue: { input?: unknown }) => `must be ${describeRange(r)}; got ${shown(issue.input)}`;
  let schema = z.number({ error });
  if (r.integer) schema = schema.int({ error });
  schema = r.minExclusive ? schema.gt(r.min, { error }) : schema.min(r.min, { error });
  schema = r.maxExclusive ? schema.lt(r.max, { error }) : schema.max(r.max, { error });
  return schema;
}

/** A duration in seconds, from `min` to `max`. */
export const seconds = (min: number, max: number, more: Partial<NumberRange> = {}) =>
  inRange({ min, max, unit: 'seconds', ...more });

/** A probability-like share in [0, 1] (or open at either end). */
export const share = (more: Partial<NumberRange> = {}) => inRange({ min: 0, max: 1, ...more });

/** A text of 1 to `max` characters (names, groups, columns); `trim` drops surrounding spaces first. */
export const boundedText = (max: number, { trim = false } = {}) =>
  (trim ? z.string().trim() : z.string())
    .min(1, { error: `must not be empty (at most ${max} characters)` })
    .max(max, { error: `must be at most ${max} characters` });

/** `triggers.cooldownSeconds: must be …` for each issue, joined by `; `. */
export function describeIssues(error: ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * A policy (or a section of one) that does not pass its schema. Thrown when a
 * stored policy is read, so that callers can tell it from their own bugs:
 * activities fail the run without retrying, the API answers 409.
 */
export class InvalidPolicyError extends Error {
  override readonly name = 'InvalidPolicyError';
  constructor(
    readonly issues: readonly { readonly path: string; readonly message: string }[],
    what = 'policy',
  ) {
    super(`${what} is invalid: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }

  static from(error: ZodError, what?: string): InvalidPolicyError {
    return new InvalidPolicyError(
      error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      what,
    );
  }
}

/** A number just inside an exclusive bound, so a clamped value passes the schema. */
function justInside(bound: number, inclusive: boolean, up: boolean): number {
  if (inclusive) return bound;
  const step = Math.max(Math.abs(bound), 1) * Number.EPSILON * 4;
  return up ? bound + step : bound - step;
}

/**
 * Parses a policy recorded earlier (a run's snapshot in its history, a row
 * written before the bounds existed): numbers outside their range are moved
 * to the nearest allowed value instead of failing, so that code written for
 * the bounds never sees a value beyond them, and a recorded history replays.
 * Anything else wrong (a missing field, a text where a number belongs, a
 * broken cross-field rule) still throws the ZodError.
 */
export function parseClamped<T extends ZodType>(
  schema: T,
  input: unknown,
): { value: z.output<T>; clamped: string[] } {
  // A copy (the input is JSON: a stored row, a history payload); workflows have no structuredClone.
  const current: unknown = input === undefined ? undefined : JSON.parse(JSON.stringify(input));
  const clamped: string[] = [];
  // Refinements run only once the fields pass, so a second round may find more.
  for (let round = 0; round < 8; round++) {
    const result = schema.safeParse(current);
    if (result.success) return { value: result.data, clamped };
    let changed = false;
    for (const issue of result.error.issues) {
      if ((issue.code !== 'too_big' && issue.code !== 'too_small') || issue.origin !== 'number') continue;
      const bound = Number(issue.code === 'too_big' ? issue.maximum : issue.minimum);
      const value = justInside(bound, issue.inclusive ?? true, issue.code === 'too_small');
      if (setAt(current, issue.path, value)) {
        clamped.push(issue.path.join('.'));
        changed = true;
      }
    }
    if (!changed) throw result.error;
  }
  return { value: schema.parse(current), clamped };
}

function setAt(root: unknown, path: readonly PropertyKey[], value: number): boolean {
  if (path.length === 0) return false;
  let node = root as Record<PropertyKey, unknown> | null;
  for (const key of path.slice(0, -1)) {
    const next = node?.[key];
    if (typeof next !== 'object' || next === null) return false;
    node = next as Record<PropertyKey, unknown>;
  }
  const last = path[path.length - 1]!;
  if (node === null || typeof node[last] !== 'number') return false;
  node[last] = value;
  return true;
}
