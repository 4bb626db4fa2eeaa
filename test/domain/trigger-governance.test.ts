import { describe, expect, it } from 'vitest';
import {
  cooldownAfterRun,
  DAY_MS,
  decideTrigger,
  followUpStartsAt,
  type GovernanceState,
  type IncomingTrigger,
  pruneDedup,
  rememberDedupKey,
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
  dedup: {},
};
const drift: IncomingTrigger = { reason: 'drift', dedupKey: null };
const inStage = (stage: string | null) => ({ runId: 'run-1', stage });
const cooling = { until: NOW + 10 * MIN, after: 'run run-1 rolled_back' };
const seenKey = { 'alert-7': { triggerId: 'trigger-a', runId: 'run-1', expiresAt: NOW + MIN } };

describe('trigger policy', () => {
  it('fills every default, so policies written before it keep working', () => {
    expect(policy()).toEqual({
      dedupTtlSeconds: 3600,
      cooldownSeconds: 0,
      rollbackCooldownSeconds: 3600,
      dailyRunBudget: 24,
      duringCooldown: { drift: 'hold', performance: 'hold', schedule: 'suppress', manual: 'bypass' },
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
        duplicateOf: seenKey['alert-7'],
        reason: 'dedupKey seen in trigger trigger-a (until 2026-11-23T12:01:00.000Z)',
      },
    ],
    [
      'a dedup key whose TTL has passed counts as new',
      { dedup: { 'alert-7': { ...seenKey['alert-7'], expiresAt: NOW } } },
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

describe('dedup keys', () => {
  it('remembers a key for the TTL, and not at all without a key or a TTL', () => {
    const entry = { dedupKey: 'k', triggerId: 't', runId: 'r' };
    expect(rememberDedupKey({}, entry, policy({ dedupTtlSeconds: 30 }), NOW)).toEqual({
      k: { triggerId: 't', runId: 'r', expiresAt: NOW + 30_000 },
    });
    expect(rememberDedupKey({}, { ...entry, dedupKey: null }, policy(), NOW)).toEqual({});
    expect(rememberDedupKey({}, entry, policy({ dedupTtlSeconds: 0 }), NOW)).toEqual({});
    expect(rememberDedupKey({}, entry, null, NOW)).toEqual({});
  });

  it('prunes expired keys and keeps the newest beyond the cap', () => {
    const e = (expiresAt: number) => ({ triggerId: 't', runId: 'r', expiresAt });
    const dedup = { old: e(NOW - 1), due: e(NOW), a: e(NOW + 1), b: e(NOW + 3), c: e(NOW + 2) };
    expect(Object.keys(pruneDedup(dedup, NOW)).sort()).toEqual(['a', 'b', 'c']);
    expect(Object.keys(pruneDedup(dedup, NOW, 2)).sort()).toEqual(['b', 'c']);
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
