import type { NumberRange } from './policy-bounds';
import { DAY } from './units';

/**
 * The `triggers` section of a policy as the model workflow holds it, and the
 * one way the workflow reads a section it was given. No zod here, on purpose:
 * a workflow's modules are evaluated anew for every workflow a worker keeps in
 * its cache (Temporal's reusable V8 context isolates module state per
 * workflow), and zod's module graph alone cost ~1.3 MB per cached workflow.
 * The schema for the API (trigger-policy.ts) is built from the same ranges and
 * defaults, and a unit test checks that both read any input alike.
 */

/**
 * What a trigger does while the model cools down after a run:
 * `hold`: it opens (or joins) the one follow-up run, which starts when the cooldown ends;
 * `suppress`: it is recorded and nothing starts;
 * `bypass`: the cooldown does not apply (a daily budget and a freeze still do).
 */
export const COOLDOWN_ACTIONS = ['hold', 'suppress', 'bypass'] as const;
export type CooldownAction = (typeof COOLDOWN_ACTIONS)[number];

/** Per trigger reason, what a trigger does during a cooldown unless the policy says otherwise. */
export const DURING_COOLDOWN = {
  drift: 'hold',
  performance: 'hold',
  schedule: 'suppress',
  manual: 'bypass',
  registry: 'hold',
} as const satisfies Record<string, CooldownAction>;
export type GovernedReason = keyof typeof DURING_COOLDOWN;

/** Cooldowns and dedup TTLs end within a month: the model workflow's timers and dates stay in range. */
const MAX_TRIGGER_WAIT = 30 * DAY;

type NumberField = 'dedupTtlSeconds' | 'cooldownSeconds' | 'rollbackCooldownSeconds' | 'dailyRunBudget';

/** The range and the default of each number of the section. */
export const TRIGGER_NUMBERS: Readonly<Record<NumberField, NumberRange & { readonly default: number }>> = {
  dedupTtlSeconds: { min: 0, max: MAX_TRIGGER_WAIT, unit: 'seconds', default: 3600 },
  cooldownSeconds: { min: 0, max: MAX_TRIGGER_WAIT, unit: 'seconds', default: 0 },
  rollbackCooldownSeconds: { min: 0, max: MAX_TRIGGER_WAIT, unit: 'seconds', default: 3600 },
  dailyRunBudget: { min: 1, max: 1_440, integer: true, default: 24 },
};

export interface TriggerPolicy {
  /** A repeated dedup key is answered with its first trigger for this long; after it the key counts as new. */
  dedupTtlSeconds: number;
  /**
   * Wait after any run ends before the next may start. 0 by default: one run at
   * a time with one follow-up already bounds the rate, and every run is gated
   * by evaluation (and approval); models with cheap, noisy triggers set it.
   */
  cooldownSeconds: number;
  /** Wait after a run ends `rolled_back`: time for people to look before the same data is tried again. */
  rollbackCooldownSeconds: number;
  /** Runs that may start in any 24 hours (a rolling window); one a minute at most. */
  dailyRunBudget: number;
  /** Per trigger reason, what a trigger does during a cooldown (after a run or after a rollback). */
  duringCooldown: Record<GovernedReason, CooldownAction>;
}

/** Every field at its default. */
export function defaultTriggerPolicy(): TriggerPolicy {
  return {
    dedupTtlSeconds: TRIGGER_NUMBERS.dedupTtlSeconds.default,
    cooldownSeconds: TRIGGER_NUMBERS.cooldownSeconds.default,
    rollbackCooldownSeconds: TRIGGER_NUMBERS.rollbackCooldownSeconds.default,
    dailyRunBudget: TRIGGER_NUMBERS.dailyRunBudget.default,
    duringCooldown: { ...DURING_COOLDOWN },
  };
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** The field's value moved into its range; null when it is not a number the range can hold. */
function boundedNumber(value: unknown, range: NumberRange & { readonly default: number }): number | null {
  if (value === undefined) return range.default;
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  // A fraction is not read as a count, however far out of range it is; a whole number is clamped.
  if (range.integer && !Number.isInteger(value)) return null;
  return Math.min(range.max, Math.max(range.min, value));
}

function readSection(input: unknown): TriggerPolicy | null {
  if (!isRecord(input)) return null;
  const policy = defaultTriggerPolicy();
  for (const key of Object.keys(TRIGGER_NUMBERS) as NumberField[]) {
    const value = boundedNumber(input[key], TRIGGER_NUMBERS[key]);
    if (value === null) return null;
    policy[key] = value;
  }
  const during = input.duringCooldown;
  if (during === undefined) return policy;
  if (!isRecord(during)) return null;
  for (const reason of Object.keys(DURING_COOLDOWN) as GovernedReason[]) {
    const action = during[reason];
    if (action === undefined) continue;
    if (!COOLDOWN_ACTIONS.includes(action as CooldownAction)) return null;
    policy.duringCooldown[reason] = action as CooldownAction;
  }
  return policy;
}

/**
 * A triggers policy the model workflow can always live with, whatever it was
 * given (a stored row written past the API, a context sent by hand from the
 * Temporal UI, a crafted carry): numbers beyond their range are clamped into
 * it; a section that cannot be read at all (a text where a number belongs, a
 * fractional budget, an unknown action) is the default policy. A valid section
 * comes back unchanged, unknown fields dropped.
 *
 * @example
 * boundedTriggerPolicy({ cooldownSeconds: 1e300 }).cooldownSeconds; // => 2592000
 */
export function boundedTriggerPolicy(input: unknown): TriggerPolicy {
  let json: unknown;
  try {
    // A payload is JSON: read it as JSON would carry it (NaN and ±Infinity become null, -0 becomes 0).
    json = input === undefined ? undefined : JSON.parse(JSON.stringify(input));
  } catch {
    return defaultTriggerPolicy(); // not JSON at all (a cycle, a BigInt): nothing a payload can hold
  }
  return readSection(json) ?? defaultTriggerPolicy();
}
