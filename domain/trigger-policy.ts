import { z } from 'zod';
import { DAY, inRange, parseClamped, seconds } from './policy-bounds';

/**
 * What a trigger does while the model cools down after a run:
 * `hold`: it opens (or joins) the one follow-up run, which starts when the cooldown ends;
 * `suppress`: it is recorded and nothing starts;
 * `bypass`: the cooldown does not apply (a daily budget and a freeze still do).
 */
export const cooldownActionSchema = z.enum(['hold', 'suppress', 'bypass']);
export type CooldownAction = z.output<typeof cooldownActionSchema>;

const DURING_COOLDOWN = {
  drift: 'hold',
  performance: 'hold',
  schedule: 'suppress',
  manual: 'bypass',
  registry: 'hold',
} as const;

/** Cooldowns and dedup TTLs end within a month: the model workflow's timers and dates stay in range. */
const MAX_TRIGGER_WAIT = 30 * DAY;

/**
 * How the per-model workflow governs triggers. Every field has a default, so
 * policies written before this section existed keep working and behave as
 * before, except for the daily budget and the cooldown after a rollback.
 *
 * @example
 * triggerPolicySchema.parse({}).rollbackCooldownSeconds; // => 3600
 */
export const triggerPolicySchema = z.object({
  /** A repeated dedup key is answered with its first trigger for this long; after it the key counts as new. */
  dedupTtlSeconds: seconds(0, MAX_TRIGGER_WAIT).default(3600),
  /**
   * Wait after any run ends before the next may start. 0 by default: one run at
   * a time with one follow-up already bounds the rate, and every run is gated
   * by evaluation (and approval); models with cheap, noisy triggers set it.
   */
  cooldownSeconds: seconds(0, MAX_TRIGGER_WAIT).default(0),
  /** Wait after a run ends `rolled_back`: time for people to look before the same data is tried again. */
  rollbackCooldownSeconds: seconds(0, MAX_TRIGGER_WAIT).default(3600),
  /** Runs that may start in any 24 hours (a rolling window); one a minute at most. */
  dailyRunBudget: inRange({ min: 1, max: 1_440, integer: true }).default(24),
  /** Per trigger reason, what a trigger does during a cooldown (after a run or after a rollback). */
  duringCooldown: z
    .object({
      drift: cooldownActionSchema.default(DURING_COOLDOWN.drift),
      performance: cooldownActionSchema.default(DURING_COOLDOWN.performance),
      schedule: cooldownActionSchema.default(DURING_COOLDOWN.schedule),
      manual: cooldownActionSchema.default(DURING_COOLDOWN.manual),
      registry: cooldownActionSchema.default(DURING_COOLDOWN.registry),
    })
    .default(DURING_COOLDOWN),
});

export type TriggerPolicyInput = z.input<typeof triggerPolicySchema>;
export type TriggerPolicy = z.output<typeof triggerPolicySchema>;
export type GovernedReason = keyof TriggerPolicy['duringCooldown'];

/** Parses the `triggers` section of a policy, filling every default; throws a ZodError naming bad fields. */
export function parseTriggerPolicy(input: unknown): TriggerPolicy {
  return triggerPolicySchema.parse(input);
}

/**
 * A triggers policy the model workflow can always live with, whatever it was
 * given (a stored row written past the API, a context sent by hand from the
 * Temporal UI, a carried policy from before the bounds): numbers beyond their
 * range are clamped into it; a section that cannot be read at all is the
 * default policy. Returns the policy unchanged when it is valid, so recorded
 * histories decide the same way.
 *
 * @example
 * boundedTriggerPolicy({ cooldownSeconds: 1e300 }).cooldownSeconds; // => 2592000
 */
export function boundedTriggerPolicy(input: unknown): TriggerPolicy {
  try {
    return parseClamped(triggerPolicySchema, input).value;
  } catch {
    return triggerPolicySchema.parse({});
  }
}
