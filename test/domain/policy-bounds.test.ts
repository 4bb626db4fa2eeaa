import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parsePolicy,
  parseStoredPolicy,
  parseStoredSection,
  policySchema,
  policySnapshot,
} from '../../domain/policy';
import { DAY, InvalidPolicyError } from '../../domain/policy-bounds';
import { DOC_PATH, policyBoundRows, withFreshTable } from '../../scripts/policy-doc';

/** A valid policy every case starts from: every section present, nothing near a bound. */
const BASE = {
  schema: { features: [{ name: 'x1', min: 0, max: 1 }], label: 'label' },
  evaluation: {
    slices: { column: 'region', margin: 0.05 },
    guardrails: [{ metric: 'logLoss', margin: 0.02 }],
  },
  approval: { required: true, onExpiry: 'escalate', escalation: { group: 'leads' } },
  performance: { metrics: { accuracy: { threshold: 0.8 } } },
};

type Json = Record<string, unknown>;

/** Sets `a.b.c` (creating objects on the way) on a copy of `policy`. */
function withValue(policy: Json, path: string, value: unknown): Json {
  const copy = structuredClone(policy);
  const keys = path.split('.');
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Json;
  }
  node[keys.at(-1)!] = value;
  return copy;
}

/**
 * Other fields a value at a bound needs to satisfy the rules across fields
 * (a reminder before its deadline, a poll within the step), and where the
 * table's generic path names a concrete one.
 */
function placed(path: string, value: number): Json {
  const concrete = path
    .replace(/\[\]\./g, '.0.')
    .replace('performance.metrics.<name>.', 'performance.metrics.accuracy.');
  let policy: Json = BASE;
  if (path === 'canary.steps[]')
    return withValue(policy, 'canary.steps', value === 100 ? [100] : [value, 100]);
  if (concrete.endsWith('reminderBeforeSeconds')) {
    policy = withValue(policy, concrete.replace('reminderBeforeSeconds', 'timeoutSeconds'), 90 * DAY);
    if (value === 90 * DAY) value -= 1; // before its deadline, which is at most 90 days
  }
  if (concrete === 'canary.pollSeconds' || concrete === 'canary.stepMinSeconds') {
    policy = withValue(policy, 'canary.stepMaxSeconds', 7 * DAY);
  }
  if (concrete === 'canary.stepMaxSeconds') policy = withValue(policy, 'canary.pollSeconds', 1);
  return withValue(policy, concrete, value);
}

/** The numeric bounds of the generated table, each as (just inside, just outside) at each end. */
function edgeCases() {
  const cases: [string, string, number, number][] = [];
  for (const row of policyBoundRows()) {
    const m =
      /(greater than|at least|from) (-?[\d.e+-]+)(?: and| to) (?:less than |at most )?(-?[\d.e+-]+)/.exec(
        row.range,
      );
    if (!m) continue;
    const [, low, min, max] = m;
    const lo = Number(min);
    const hi = Number(max);
    const integer = row.range.startsWith('an integer');
    const openLow = low === 'greater than';
    const openHigh = row.range.includes('less than');
    const step = integer ? 1 : Math.max(Math.abs(hi - lo) * 1e-6, 1e-9);
    cases.push([row.path, row.range, openLow ? lo + step : lo, openLow ? lo : lo - step]);
    cases.push([row.path, row.range, openHigh ? hi - step : hi, openHigh ? hi : hi + step]);
  }
  return cases;
}

describe('policy bounds', () => {
  const cases = edgeCases();

  it('covers every bounded number of the policy', () => {
    // 2 ends × every numeric row with a range: a field that lost its bound would drop out of here.
    expect(cases.length).toBeGreaterThanOrEqual(2 * 55);
  });

  it.each(cases)(
    '%s (%s): %d is allowed, %d is refused naming the field and the range',
    (path, range, inside, outside) => {
      const ok = policySchema.safeParse(placed(path, inside));
      expect(ok.error?.issues ?? []).toEqual([]);
      const refused = policySchema.safeParse(placed(path, outside));
      expect(refused.success).toBe(false);
      const field = path
        .replace('[]', '.0')
        .replace('<name>', 'accuracy')
        .replace('canary.steps.0', 'canary.steps');
      const issue = refused.error!.issues.find((i) => i.path.join('.').startsWith(field));
      expect(issue, JSON.stringify(refused.error!.issues)).toBeDefined();
      if (!path.endsWith('[]')) expect(issue!.message).toContain(range);
    },
  );

  it.each([
    [
      'a cooldown of 1e300 s',
      'triggers.cooldownSeconds',
      1e300,
      'must be from 0 to 2592000 seconds (30 days); got 1e+300',
    ],
    ['an approval deadline of 1e300 s', 'approval.timeoutSeconds', 1e300, 'to 7776000 seconds (90 days)'],
    ['a bake of 31 days', 'bake.seconds', 31 * DAY, 'to 2592000 seconds (30 days); got 2678400'],
    ['a bake poll of 0.5 s', 'bake.pollSeconds', 0.5, 'from 1 to 3600 seconds (1 hour); got 0.5'],
    ['a canary poll of 0', 'canary.pollSeconds', 0, 'from 1 to 3600 seconds'],
    ['a budget of 2.5 runs', 'triggers.dailyRunBudget', 2.5, 'an integer from 1 to 1440; got 2.5'],
    ['a duration given as text', 'triggers.dedupTtlSeconds', '1h', 'got "1h"'],
  ])('refuses %s', (_what, path, value, message) => {
    const result = policySchema.safeParse(withValue(BASE, path, value));
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      [path, expect.stringContaining(message)],
    ]);
  });

  it.each([
    [
      'a reminder at the deadline',
      'approval.reminderBeforeSeconds',
      { 'approval.reminderBeforeSeconds': 86_400 },
    ],
    [
      "a question's reminder after its deadline",
      'canary.ask.reminderBeforeSeconds',
      { 'canary.ask.reminderBeforeSeconds': 7200 },
    ],
    [
      'a poll longer than the step',
      'canary.pollSeconds',
      { 'canary.stepMaxSeconds': 10, 'canary.pollSeconds': 11 },
    ],
    ['a step that ends before it may', 'canary.stepMinSeconds', { 'canary.stepMinSeconds': 700 }],
    ['steps that go down', 'canary.steps', { 'canary.steps': [50, 10, 100] }],
    [
      '21 steps',
      'canary.steps',
      { 'canary.steps': Array.from({ length: 21 }, (_, i) => (i + 1) * 4.7).concat(100) },
    ],
    ['a feature named twice', 'schema.features', { 'schema.features': [{ name: 'a' }, { name: 'a' }] }],
    [
      'a guardrail named twice',
      'evaluation.guardrails',
      {
        'evaluation.guardrails': [
          { metric: 'logLoss', margin: 0.1 },
          { metric: 'logLoss', margin: 0.2 },
        ],
      },
    ],
    ['a group of 201 characters', 'approval.group', { 'approval.group': 'g'.repeat(201) }],
  ])('refuses %s, naming %s', (_what, path, values) => {
    let policy: Json = BASE;
    for (const [p, v] of Object.entries(values)) policy = withValue(policy, p, v);
    const result = policySchema.safeParse(policy);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('accepts the edges a real policy uses together: minimum polls, longest waits, one canary step, no cooldown', () => {
    const policy = parsePolicy({
      ...BASE,
      approval: { required: true, timeoutSeconds: 90 * DAY, reminderBeforeSeconds: 89 * DAY },
      canary: { steps: [100], pollSeconds: 1, stepMinSeconds: 0, stepMaxSeconds: 1 },
      bake: { seconds: 30 * DAY, pollSeconds: 1 },
      triggers: { cooldownSeconds: 0, rollbackCooldownSeconds: 30 * DAY, dedupTtlSeconds: 30 * DAY },
    });
    expect(policy.canary.steps).toEqual([100]);
    expect(policy.bake.seconds).toBe(30 * DAY);
  });
});

describe('stored policies', () => {
  const poisoned = withValue(withValue(BASE, 'triggers.cooldownSeconds', 1e300), 'canary.pollSeconds', 0.1);

  it('names every field outside its bounds, and the way to fix it, when a run reads the stored policy', () => {
    expect(() => parseStoredPolicy(poisoned, 'churn')).toThrow(InvalidPolicyError);
    expect(() => parseStoredPolicy(poisoned, 'churn')).toThrow(
      'the stored policy of model churn (fix it with PUT /v1/models/churn) is invalid: canary.pollSeconds: must be from 1 to 3600 seconds (1 hour); got 0.1; triggers.cooldownSeconds: must be from 0 to 2592000 seconds (30 days); got 1e+300',
    );
  });

  it('reads one section on its own, so a bad value elsewhere does not block it', () => {
    expect(parseStoredSection(poisoned, 'churn', 'drift').psiThreshold).toBe(0.2);
    expect(() => parseStoredSection(poisoned, 'churn', 'triggers')).toThrow(
      /is invalid: triggers\.cooldownSeconds: must be from 0/,
    );
  });

  it("reads a run's recorded snapshot clamped into the bounds, so a history recorded under older bounds replays", () => {
    const snapshot = policySnapshot(withValue(poisoned, 'drift.pValue', 0));
    expect(snapshot.triggers.cooldownSeconds).toBe(30 * DAY);
    expect(snapshot.canary.pollSeconds).toBe(1);
    expect(snapshot.drift.pValue).toBeGreaterThan(0);
    expect(snapshot.drift.pValue).toBeLessThan(1e-12);
    // What cannot be clamped still fails: the run ends `failed` with the reason.
    expect(() => policySnapshot(withValue(BASE, 'bake.seconds', 'long'))).toThrow(/bake\.seconds|seconds/);
  });
});

describe('docs/policy.md', () => {
  it('holds the table of ranges the schema enforces (regenerate with npm run docs:policy)', () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    expect(doc).toBe(withFreshTable(doc));
    expect(doc).toContain('| `triggers.cooldownSeconds` | from 0 to 2592000 seconds (30 days) | `0` |');
  });
});
