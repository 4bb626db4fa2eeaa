import { z } from 'zod';

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
} as const;

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
  dedupTtlSeconds: z.number().min(0).default(3600),
  /**
   * Wait after any run ends before the next may start. 0 by default: one run at
   * a time with one follow-up already bounds the rate, and every run is gated
   * by evaluation (and approval); models with cheap, noisy triggers set it.
   */
  cooldownSeconds: z.number().min(0).default(0),
  /** Wait after a run ends `rolled_back`: time for people to look before the same data is tried again. */
  rollbackCooldownSeconds: z.number().min(0).default(3600),
  /** Runs that may start in any 24 hours (a rolling window). */
  dailyRunBudget: z.number().int().min(1).default(24),
  /** Per trigger reason, what a trigger does during a cooldown (after a run or after a rollback). */
  duringCooldown: z
    .object({
      drift: cooldownActionSchema.default(DURING_COOLDOWN.drift),
      performance: cooldownActionSchema.default(DURING_COOLDOWN.performance),
      schedule: cooldownActionSchema.default(DURING_COOLDOWN.schedule),
      manual: cooldownActionSchema.default(DURING_COOLDOWN.manual),
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
