import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bakePolicySchema, canaryPolicySchema } from '../../domain/policy';
import { chunkPolls, watchesFor, watchHeartbeatSeconds } from '../../domain/watch-plan';

type Bounds = { minimum: number; maximum: number };

/** The allowed range of a policy field, read from the schema users are checked against. */
function bounds(schema: z.ZodType, field: string): Bounds {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, Bounds>;
  };
  return json.properties[field]!;
}

/** Both ends of a range and the values between that policies use. */
function samples({ minimum, maximum }: Bounds): number[] {
  const typical = [1, 5, 60, 300, 600, 1_800, 3_600, 86_400, 7 * 86_400, 30 * 86_400];
  return [...new Set([Math.max(1, minimum), ...typical.filter((v) => v > minimum && v < maximum), maximum])];
}

describe('watch plan: a wait of any allowed length fits the run’s history', () => {
  const waits = [
    {
      name: 'canary step',
      seconds: bounds(canaryPolicySchema, 'stepMaxSeconds'),
      poll: bounds(canaryPolicySchema, 'pollSeconds'),
    },
    {
      name: 'bake',
      seconds: bounds(bakePolicySchema, 'seconds'),
      poll: bounds(bakePolicySchema, 'pollSeconds'),
    },
  ];

  for (const wait of waits) {
    it(`a ${wait.name} takes at most 100 watches of at least 12 looks each`, () => {
      let pairs = 0;
      for (const seconds of samples(wait.seconds)) {
        for (const poll of samples(wait.poll)) {
          if (poll > seconds) continue;
          pairs++;
          expect(watchesFor(seconds, poll), `${seconds} s looked at every ${poll} s`).toBeLessThanOrEqual(
            100,
          );
          expect(chunkPolls(seconds, poll)).toBeGreaterThanOrEqual(12);
        }
      }
      expect(pairs).toBeGreaterThan(20);
    });
  }

  it('the longest bake looked at every second still takes 100 watches, each a few hours long', () => {
    const seconds = bounds(bakePolicySchema, 'seconds').maximum;
    expect(seconds).toBe(30 * 86_400);
    expect(watchesFor(seconds, 1)).toBe(100);
    expect(chunkPolls(seconds, 1)).toBe(25_920);
  });

  it('a watch is handed to another worker within two looks, 10 s at the least and 10 minutes at the most', () => {
    expect(watchHeartbeatSeconds(1)).toBe(10);
    expect(watchHeartbeatSeconds(5)).toBe(10);
    expect(watchHeartbeatSeconds(60)).toBe(120);
    expect(watchHeartbeatSeconds(300)).toBe(600);
    expect(watchHeartbeatSeconds(3_600)).toBe(600);
  });
});
