import { describe, expect, it } from 'vitest';
import { parseClamped } from '../../domain/policy-bounds';
import { seededRandom } from '../../domain/random';
import { triggerPolicySchema } from '../../domain/trigger-policy';
import { boundedTriggerPolicy, DURING_COOLDOWN, TRIGGER_NUMBERS } from '../../domain/trigger-policy-bounded';

/** How the section was read before the model workflow stopped carrying zod: the schema, clamped. */
function readWithSchema(input: unknown) {
  try {
    return parseClamped(triggerPolicySchema, input).value;
  } catch {
    return triggerPolicySchema.parse({});
  }
}

const EXTREMES: unknown[] = [
  undefined,
  null,
  0,
  -0,
  1,
  -1,
  0.5,
  2.5,
  3.7,
  59.99,
  1_440,
  1_441,
  1_440.5,
  2_592_000,
  2_592_001,
  1e300,
  -1e300,
  Number.MAX_SAFE_INTEGER + 2,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  '60',
  '',
  true,
  [],
  {},
  'hold',
  'suppress',
  'bypass',
  'HOLD',
];

/** A random section: each field absent, valid, extreme or of the wrong kind. */
function randomSection(rand: () => number): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const section: Record<string, unknown> = {};
  for (const key of [...Object.keys(TRIGGER_NUMBERS), 'unknownField']) {
    const r = rand();
    if (r < 0.3) continue;
    section[key] = r < 0.6 ? pick(EXTREMES) : Math.round((rand() - 0.2) * 10 ** Math.floor(rand() * 8));
  }
  const d = rand();
  if (d < 0.2) section.duringCooldown = pick(EXTREMES);
  else if (d < 0.7) {
    const during: Record<string, unknown> = {};
    for (const reason of [...Object.keys(DURING_COOLDOWN), 'other']) {
      if (rand() < 0.5) during[reason] = rand() < 0.8 ? pick(['hold', 'suppress', 'bypass']) : pick(EXTREMES);
    }
    section.duringCooldown = during;
  }
  return rand() < 0.05 ? pick(EXTREMES) : section;
}

describe('boundedTriggerPolicy (the model workflow reads its triggers section without zod)', () => {
  it('clamps numbers beyond their ranges and keeps a valid section as it is', () => {
    expect(boundedTriggerPolicy({ cooldownSeconds: 1e300, dailyRunBudget: 0 })).toMatchObject({
      cooldownSeconds: 2_592_000,
      dailyRunBudget: 1,
      dedupTtlSeconds: 3_600,
    });
    const valid = {
      dedupTtlSeconds: 60,
      cooldownSeconds: 0.5,
      rollbackCooldownSeconds: 7_200,
      dailyRunBudget: 3,
      duringCooldown: {
        drift: 'suppress',
        performance: 'bypass',
        schedule: 'hold',
        manual: 'bypass',
        registry: 'hold',
      },
    };
    expect(boundedTriggerPolicy(valid)).toEqual(valid);
  });

  it('falls back to the defaults for a section it cannot read, and never throws', () => {
    const defaults = triggerPolicySchema.parse({});
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [
      null,
      [],
      'x',
      { dailyRunBudget: 2.5 },
      { duringCooldown: { drift: 'later' } },
      cyclic,
    ]) {
      expect(boundedTriggerPolicy(bad)).toEqual(defaults);
    }
    expect(boundedTriggerPolicy({ dedupTtlSeconds: 10n })).toEqual(defaults);
  });

  it('reads every input as the API schema, clamped, reads it (20,000 random and extreme sections)', () => {
    const rand = seededRandom(2026);
    const inputs: unknown[] = [...EXTREMES];
    for (const key of Object.keys(TRIGGER_NUMBERS)) for (const x of EXTREMES) inputs.push({ [key]: x });
    for (const x of EXTREMES) inputs.push({ duringCooldown: { drift: x } }, { duringCooldown: x });
    for (let i = 0; i < 20_000; i++) inputs.push(randomSection(rand));
    const differing = inputs.filter(
      (x) => JSON.stringify(boundedTriggerPolicy(x)) !== JSON.stringify(readWithSchema(x)),
    );
    expect(differing.slice(0, 5)).toEqual([]);
  });
});
