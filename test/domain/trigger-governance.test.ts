import { describe, expect, it } from 'vitest';
import { parsePolicy, parseTriggerPolicy } from '../../domain/policy';
import {
  cooldownAfterRun,
  DAY_MS,
  type DedupCarry,
  type DedupEntry,
  DedupIndex,
  decideTrigger,
  followUpStartsAt,
  type GovernanceState,
  type IncomingTrigger,
  runsInLastDay,
} from '../../domain/trigger-governance';
import { type TriggerPolicyInput, triggerPolicySchema } from '../../domain/trigger-policy';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const MIN = 60_000;
const policy = (overrides: TriggerPolicyInput = {}) => triggerPolicySchema.parse(overrides);

const idle: GovernanceState = {
  policy: policy(),
  frozen: null,
  current: null,
  pending: null,
  cooldown: null,
  runStarts: [],
  dedup: new DedupIndex(),
};
const drift: IncomingTrigger = { reason: 'drift', dedupKey: null };
const inStage = (stage: string | null) => ({ runId: 'run-1', stage });
const cooling = { until: NOW + 10 * MIN, after: 'run run-1 rolled_back' };
const seenEntry = { triggerId: 'trigger-a', runId: 'run-1', expiresAt: NOW + MIN };
const seenKey = new Map([['alert-7', seenEntry]]);

describe('trigger policy', () => {
  it('reads the triggers section of a stored policy as the whole policy would', () => {
    const base = {
      schema: { features: [{ name: 'x', min: 0, max: 1 }], label: 'label' },
      evaluation: { minImprovement: 0.01, minAccuracy: 0.7 },
    };
    const stored = [
      base,
      { ...base, triggers: { cooldownSeconds: 60, duringCooldown: { drift: 'suppress' } } },
    ];
    for (const policy of stored) expect(parseTriggerPolicy(policy)).toEqual(parsePolicy(policy).triggers);
    expect(parseTriggerPolicy(stored[1]).cooldownSeconds).toBe(60);
  });

  it('reads a stored triggers section beyond its bounds clamped into them, and an unreadable one as the defaults', () => {
    // Rows written past the API: the model workflow must still be able to govern with them.
    expect(parseTriggerPolicy({ triggers: { dailyRunBudget: -1 } }).dailyRunBudget).toBe(1);
    expect(parseTriggerPolicy({ triggers: { cooldownSeconds: 1e300 } })).toMatchObject({
      cooldownSeconds: 30 * 86_400,
      rollbackCooldownSeconds: 3600,
    });
    expect(parseTriggerPolicy({ triggers: { cooldownSeconds: 'soon' } })).toEqual(
      parsePolicy({
        schema: { features: [{ name: 'x' }], label: 'label' },
      }).triggers,
    );
  });

  it('fills every default, so policies written before it keep working', () => {
    expect(policy()).toEqual({
      dedupTtlSeconds: 3600,
      cooldownSeconds: 0,
      rollbackCooldownSeconds: 3600,
      dailyRunBudget: 24,
      duringCooldown: {
        drift: 'hold',
        performance: 'hold',
        schedule: 'suppress',
        manual: 'bypass',
        registry: 'hold',
      },
    });
  });

  it.each([
    [{ dailyRunBudget: 0 }, 'dailyRunBudget'],
    [{ cooldownSeconds: -1 }, 'cooldownSeconds'],
    [{ duringCooldown: { drift: 'ignore' } }, 'duringCooldown'],
  ])('refuses %j', (input, field) => {
    const parsed = triggerPolicySchema.safeParse(input);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path[0]).toBe(field);
  });
});

describe('decideTrigger', () => {
  it.each<[string, Partial<GovernanceState>, IncomingTrigger, object]>([
    ['an idle model starts a run', {}, drift, { fate: 'started', action: 'start', reason: null }],
    [
      'a run in training: the trigger opens the follow-up',
      { current: inStage('train') },
      drift,
      { fate: 'queued', action: 'open-follow-up' },
    ],
    [
      'a run awaiting approval with a follow-up: the trigger joins it',
      { current: inStage('approve'), pending: { runId: 'run-2' } },
      drift,
      { fate: 'joined', action: 'join-follow-up' },
    ],
    [
      'a run whose stage is not known yet counts as early',
      { current: inStage(null) },
      drift,
      { fate: 'queued', action: 'open-follow-up' },
    ],
    [
      'a run in canary: the trigger is held and opens the follow-up',
      { current: inStage('canary') },
      drift,
      {
        fate: 'held',
        action: 'open-follow-up',
        reason: 'run run-1 is in canary; the follow-up starts after it ends',
      },
    ],
    [
      'a run in bake with a follow-up: held, joining it',
      { current: inStage('bake'), pending: { runId: 'run-2' } },
      drift,
      { fate: 'held', action: 'join-follow-up' },
    ],
    [
      'a dedup key within its TTL answers the earlier trigger, even during a run',
      { current: inStage('train'), dedup: seenKey },
      { reason: 'drift', dedupKey: 'alert-7' },
      {
        fate: 'deduplicated',
        action: 'none',
        duplicateOf: seenEntry,
        reason: 'dedupKey seen in trigger trigger-a (until 2026-11-23T12:01:00.000Z)',
      },
    ],
    [
      'a dedup key whose TTL has passed counts as new',
      { dedup: new Map([['alert-7', { ...seenEntry, expiresAt: NOW }]]) },
      { reason: 'drift', dedupKey: 'alert-7' },
      { fate: 'started', action: 'start' },
    ],
    [
      'a frozen model records the trigger and starts nothing, manual included',
      { frozen: { reason: 'incident 4711' } },
      { reason: 'manual', dedupKey: null },
      { fate: 'suppressed', action: 'none', reason: 'frozen: incident 4711' },
    ],
    [
      'a frozen model still answers a duplicate with its run',
      { frozen: { reason: null }, dedup: seenKey },
      { reason: 'drift', dedupKey: 'alert-7' },
      { fate: 'deduplicated' },
    ],
    [
      'a drift trigger during a cooldown is held for the follow-up at its end',
      { cooldown: cooling },
      drift,
      {
        fate: 'held',
        action: 'open-follow-up',
        reason: 'cooldown until 2026-11-23T12:10:00.000Z after run run-1 rolled_back',
      },
    ],
    [
      'a second drift trigger during the cooldown joins the held follow-up',
      { cooldown: cooling, pending: { runId: 'run-2' } },
      drift,
      { fate: 'held', action: 'join-follow-up' },
    ],
    [
      'a schedule trigger during a cooldown is suppressed (the next tick comes anyway)',
      { cooldown: cooling },
      { reason: 'schedule', dedupKey: null },
      {
        fate: 'suppressed',
        action: 'none',
        reason: 'cooldown until 2026-11-23T12:10:00.000Z after run run-1 rolled_back',
      },
    ],
    [
      'a manual trigger bypasses the cooldown',
      { cooldown: cooling },
      { reason: 'manual', dedupKey: null },
      { fate: 'started', action: 'start' },
    ],
    [
      'a manual trigger during the cooldown starts the held follow-up now',
      { cooldown: cooling, pending: { runId: 'run-2' } },
      { reason: 'manual', dedupKey: null },
      { fate: 'started', action: 'start-follow-up' },
    ],
    [
      'a cooldown that has ended does not apply',
      { cooldown: { ...cooling, until: NOW } },
      { reason: 'schedule', dedupKey: null },
      { fate: 'started', action: 'start' },
    ],
    [
      'the policy can suppress drift during a cooldown instead',
      { cooldown: cooling, policy: policy({ duringCooldown: { drift: 'suppress' } }) },
      drift,
      { fate: 'suppressed' },
    ],
    [
      'no policy (a trigger recorded before governance): a cooldown never applies',
      { cooldown: cooling, policy: null },
      { reason: 'schedule', dedupKey: null },
      { fate: 'started' },
    ],
  ])('%s', (_name, state, trigger, expected) => {
    expect(decideTrigger({ ...idle, ...state }, trigger, NOW)).toMatchObject(expected);
  });

  describe('daily run budget', () => {
    const twoToday = [NOW - 23 * 60 * MIN, NOW - 5 * MIN];
    const budget2 = policy({ dailyRunBudget: 2 });

    it.each<[string, Partial<GovernanceState>, IncomingTrigger, object]>([
      [
        'a spent budget suppresses a new run, manual too',
        { policy: budget2, runStarts: twoToday },
        { reason: 'manual', dedupKey: null },
        {
          fate: 'suppressed',
          reason: 'daily budget of 2 runs used; the next may start after 2026-11-23T13:00:00.000Z',
        },
      ],
      [
        'runs older than 24 hours do not count',
        { policy: budget2, runStarts: [NOW - DAY_MS, NOW - 5 * MIN] },
        drift,
        { fate: 'started' },
      ],
      [
        'the follow-up counts once it is opened',
        { policy: policy({ dailyRunBudget: 1 }), cooldown: cooling, pending: { runId: 'run-2' } },
        { reason: 'manual', dedupKey: null },
        // Starting the counted follow-up adds no run.
        { fate: 'started', action: 'start-follow-up' },
      ],
      [
        'a spent budget stops a run in progress from opening a follow-up',
        { policy: budget2, runStarts: twoToday, current: inStage('train') },
        drift,
        { fate: 'suppressed' },
      ],
      [
        'joining a follow-up that is already counted is allowed',
        {
          policy: budget2,
          runStarts: [NOW - 5 * MIN],
          current: inStage('train'),
          pending: { runId: 'run-2' },
        },
        drift,
        { fate: 'joined' },
      ],
      [
        'a spent budget suppresses a trigger that would open a held follow-up',
        { policy: budget2, runStarts: twoToday, cooldown: cooling },
        drift,
        { fate: 'suppressed', reason: expect.stringMatching(/^daily budget of 2 runs used/) },
      ],
    ])('%s', (_name, state, trigger, expected) => {
      expect(decideTrigger({ ...idle, ...state }, trigger, NOW)).toMatchObject(expected);
    });
  });
});

describe('followUpStartsAt', () => {
  it.each<[string, Partial<GovernanceState>, number | null]>([
    ['no follow-up', {}, null],
    ['a run is in progress', { pending: { runId: 'run-2' }, current: inStage('bake') }, null],
    ['frozen: not until unfrozen', { pending: { runId: 'run-2' }, frozen: { reason: 'x' } }, null],
    ['no cooldown: at once', { pending: { runId: 'run-2' } }, NOW],
    ['cooling down: when it ends', { pending: { runId: 'run-2' }, cooldown: cooling }, cooling.until],
  ])('%s', (_name, state, expected) => {
    expect(followUpStartsAt({ ...idle, ...state }, NOW)).toBe(expected);
  });
});

describe('cooldownAfterRun', () => {
  const p = policy({ cooldownSeconds: 60, rollbackCooldownSeconds: 3600 });
  it.each<[string, number | null]>([
    ['promoted', NOW + 60_000],
    ['rejected_eval', NOW + 60_000],
    ['rolled_back', NOW + 3_600_000],
  ])('after %s', (outcome, until) => {
    expect(cooldownAfterRun(p, { runId: 'run-1', outcome }, NOW)?.until ?? null).toBe(until);
  });

  it('names the run and its outcome', () => {
    expect(cooldownAfterRun(p, { runId: 'run-1', outcome: 'rolled_back' }, NOW)?.after).toBe(
      'run run-1 rolled_back',
    );
  });

  it('is none with the default policy after a normal run, and none without a policy', () => {
    expect(cooldownAfterRun(policy(), { runId: 'run-1', outcome: 'promoted' }, NOW)).toBeNull();
    expect(cooldownAfterRun(null, { runId: 'run-1', outcome: 'rolled_back' }, NOW)).toBeNull();
  });
});

/** What an earlier execution would carry for these keys (any order). */
function carried(keys: Record<string, DedupEntry>): DedupCarry {
  const entries = Object.entries(keys).sort(([, a], [, b]) => a.expiresAt - b.expiresAt);
  const runIds = [...new Set(entries.map(([, e]) => e.runId))];
  return {
    keys: entries.map(([k]) => k),
    runs: entries.map(([, e]) => runIds.indexOf(e.runId)),
    runIds,
    expiresAt: entries.map(([, e], i) => e.expiresAt - (entries[i - 1]?.[1].expiresAt ?? 0)),
  };
}

/** The keys a carry holds, as the next execution reads them. */
function keysIn(carry: DedupCarry): Record<string, DedupEntry | undefined> {
  const next = new DedupIndex(JSON.parse(JSON.stringify(carry)));
  return Object.fromEntries(carry.keys.map((key) => [key, next.get(key)]));
}

describe('dedup keys', () => {
  const entry = { dedupKey: 'k', triggerId: 't', runId: 'r' };
  const e = (expiresAt: number) => ({ triggerId: 't', runId: 'r', expiresAt });

  it('remembers a key for the TTL, and not at all without a key or a TTL', () => {
    const index = new DedupIndex();
    index.remember(entry, policy({ dedupTtlSeconds: 30 }), NOW);
    expect(index.get('k')).toEqual({ triggerId: 't', runId: 'r', expiresAt: NOW + 30_000 });
    expect(keysIn(index.toCarry(NOW))).toEqual({
      k: { triggerId: null, runId: 'r', expiresAt: NOW + 30_000 },
    });
    for (const [without, p] of [
      [{ ...entry, dedupKey: null }, policy()],
      [entry, policy({ dedupTtlSeconds: 0 })],
      [entry, null],
    ] as const) {
      const empty = new DedupIndex();
      empty.remember(without, p, NOW);
      expect(keysIn(empty.toCarry(NOW))).toEqual({});
    }
  });

  it('a key remembered again takes the new trigger, run and expiry', () => {
    const index = new DedupIndex();
    index.remember(entry, policy({ dedupTtlSeconds: 30 }), NOW);
    index.remember({ ...entry, triggerId: 't2', runId: 'r2' }, policy({ dedupTtlSeconds: 30 }), NOW + MIN);
    index.prune(NOW + 40_000);
    expect(index.get('k')).toEqual({ triggerId: 't2', runId: 'r2', expiresAt: NOW + MIN + 30_000 });
  });

  it('carries every live key with its run and expiry to the next execution, each run id once', () => {
    const index = new DedupIndex();
    const p = (ttl: number) => policy({ dedupTtlSeconds: ttl });
    index.remember({ dedupKey: 'a', triggerId: 't1', runId: 'run-1' }, p(600), NOW);
    index.remember({ dedupKey: 'b', triggerId: 't2', runId: 'run-2' }, p(600), NOW + 5);
    // A shorter TTL: this key expires before the ones remembered earlier.
    index.remember({ dedupKey: 'c', triggerId: 't3', runId: 'run-1' }, p(60), NOW + 9);
    index.remember({ dedupKey: 'gone', triggerId: 't4', runId: 'run-1' }, p(1), NOW);
    const carry = index.toCarry(NOW + 2_000);
    expect(carry.runIds).toEqual(['run-1', 'run-2']);
    expect(carry.keys).toEqual(['c', 'a', 'b']);
    expect(keysIn(carry)).toEqual({
      a: { triggerId: null, runId: 'run-1', expiresAt: NOW + 600_000 },
      b: { triggerId: null, runId: 'run-2', expiresAt: NOW + 5 + 600_000 },
      c: { triggerId: null, runId: 'run-1', expiresAt: NOW + 9 + 60_000 },
    });
    // Not the triggers: the next execution answers with the run, the API finds the trigger.
    const again = decideTrigger(
      { ...idle, dedup: new DedupIndex(carry) },
      { reason: 'drift', dedupKey: 'b' },
      NOW + 3_000,
    );
    expect(again).toMatchObject({
      fate: 'deduplicated',
      duplicateOf: { triggerId: null, runId: 'run-2' },
      reason: `dedupKey seen in run run-2 (until ${new Date(NOW + 5 + 600_000).toISOString()})`,
    });
    // In expiry order again: pruning at c's expiry drops c alone.
    const next = new DedupIndex(carry);
    next.prune(NOW + 9 + 60_000);
    expect(next.liveCount(0)).toBe(2);
    expect(next.get('c')).toBeUndefined();
  });

  it('prunes expired keys and keeps the newest beyond the cap', () => {
    const keys = { old: e(NOW - 1), due: e(NOW), a: e(NOW + 1), b: e(NOW + 3), c: e(NOW + 2) };
    const index = new DedupIndex(carried(keys));
    expect(index.liveCount(NOW)).toBe(3);
    expect(Object.keys(keysIn(index.toCarry(NOW))).sort()).toEqual(['a', 'b', 'c']);
    expect(Object.keys(keysIn(index.toCarry(NOW, 2))).sort()).toEqual(['b', 'c']);
    index.prune(NOW);
    expect(index.get('old')).toBeUndefined();
    expect(index.get('due')).toBeUndefined();
    expect(Object.keys(keysIn(index.toCarry(NOW))).sort()).toEqual(['a', 'b', 'c']);
    index.prune(NOW, 2);
    expect(Object.keys(keysIn(index.toCarry(NOW))).sort()).toEqual(['b', 'c']);
  });

  it('a key left behind a live one by a shorter TTL still counts as expired', () => {
    const index = new DedupIndex();
    index.remember({ ...entry, dedupKey: 'long' }, policy({ dedupTtlSeconds: 600 }), NOW);
    index.remember({ ...entry, dedupKey: 'short' }, policy({ dedupTtlSeconds: 10 }), NOW);
    index.prune(NOW + 20_000);
    expect(index.liveCount(NOW + 20_000)).toBe(1);
    const later = { reason: 'drift', dedupKey: 'short' } as const;
    expect(decideTrigger({ ...idle, dedup: index }, later, NOW + 20_000).fate).toBe('started');
    expect(Object.keys(keysIn(index.toCarry(NOW + 20_000)))).toEqual(['long']);
  });

  it('keeps the newest 5,000 keys when more are live', () => {
    const index = new DedupIndex();
    const p = policy({ dedupTtlSeconds: 3600 });
    for (let i = 0; i < 50_000; i++) {
      index.prune(NOW + i);
      index.remember({ ...entry, dedupKey: `alert-${i}` }, p, NOW + i);
    }
    index.prune(NOW + 50_000);
    expect(index.liveCount(NOW + 50_000)).toBe(5_000);
    expect(index.get('alert-44999')).toBeUndefined();
    expect(index.get('alert-45000')).toBeDefined();
    expect(index.get('alert-49999')).toBeDefined();
  });
});

describe('runsInLastDay', () => {
  it('keeps the starts of the last 24 hours, oldest first', () => {
    expect(runsInLastDay([NOW - MIN, NOW - DAY_MS, NOW - 2 * MIN, NOW - DAY_MS + 1], NOW)).toEqual([
      NOW - DAY_MS + 1,
      NOW - 2 * MIN,
      NOW - MIN,
    ]);
  });
});
