import { z } from 'zod';
import { inRange } from './policy-bounds';
import {
  COOLDOWN_ACTIONS,
  DURING_COOLDOWN,
  TRIGGER_NUMBERS,
  type TriggerPolicy,
} from './trigger-policy-bounded';

export {
  boundedTriggerPolicy,
  type CooldownAction,
  type GovernedReason,
  type TriggerPolicy,
} from './trigger-policy-bounded';

/** `hold`, `suppress` or `bypass` (trigger-policy-bounded.ts says what each does). */
export const cooldownActionSchema = z.enum(COOLDOWN_ACTIONS);

const numberField = (key: keyof typeof TRIGGER_NUMBERS) => {
  const { default: fallback, ...range } = TRIGGER_NUMBERS[key];
  return inRange(range).default(fallback);
};

/**
 * How the per-model workflow governs triggers, for the API: the ranges and
 * defaults of trigger-policy-bounded.ts, which the model workflow reads the
 * section with. Every field has a default, so policies written before this
 * section existed keep working.
 *
 * @example
 * triggerPolicySchema.parse({}).rollbackCooldownSeconds; // => 3600
 */
export const triggerPolicySchema = z.object({
  /** A repeated dedup key is answered with its first trigger for this long; after it the key counts as new. */
  dedupTtlSeconds: numberField('dedupTtlSeconds'),
  /** Wait after any run ends before the next may start (0 by default). */
  cooldownSeconds: numberField('cooldownSeconds'),
  /** Wait after a run ends `rolled_back`: time for people to look before the same data is tried again. */
  rollbackCooldownSeconds: numberField('rollbackCooldownSeconds'),
  /** Runs that may start in any 24 hours (a rolling window); one a minute at most. */
  dailyRunBudget: numberField('dailyRunBudget'),
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

// The schema's output is the section the model workflow holds, field for field.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShape: Same<z.output<typeof triggerPolicySchema>, TriggerPolicy> = true;
void sameShape;

/** Parses the `triggers` section of a policy, filling every default; throws a ZodError naming bad fields. */
export function parseTriggerPolicy(input: unknown): TriggerPolicy {
  return triggerPolicySchema.parse(input);
}
