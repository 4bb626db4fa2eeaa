import { describe, expect, it } from 'vitest';
import {
  type ApprovalLevel,
  approvalLevels,
  type DecisionContext,
  openLevel,
  refuseDecision,
  tallyVotes,
  type Vote,
} from '../../domain/approval';
import { approvalPolicySchema } from '../../domain/policy';
import { can, type Identity } from '../../domain/roles';

const level: ApprovalLevel = {
  level: 'primary',
  approvers: 2,
  role: 'approver',
  group: null,
  timeoutSeconds: 60,
  reminderBeforeSeconds: null,
};
const who = (name: string, role: Identity['role'] = 'approver', groups: string[] = []): Identity => ({
  name,
  role,
  groups,
});
const vote = (by: string, decision: Vote['decision'], lvl: Vote['level'] = 'primary'): Vote => ({
  by,
  role: 'approver',
  decision,
  reason: null,
  at: '2026-11-23T00:00:00Z',
  via: 'api',
  level: lvl,
  evaluationReportHash: 'h',
});
const ctx = (over: Partial<DecisionContext> = {}): DecisionContext => ({
  level,
  votes: [],
  fourEyes: true,
  triggeredBy: ['tom'],
  registeredBy: 'rita',
  evaluationReportHash: 'a'.repeat(64),
  ...over,
});

describe('refuseDecision', () => {
  it.each([
    ['an eligible approver', who('ana'), ctx(), null],
    ['an admin (always eligible by role)', who('adam', 'admin'), ctx(), null],
    ['an unknown name', null, ctx(), 'not_eligible'],
    ['an operator', who('olga', 'operator'), ctx(), 'not_eligible'],
    ['a viewer', who('vic', 'viewer'), ctx(), 'not_eligible'],
    [
      'an approver when the level needs admin',
      who('ana'),
      ctx({ level: { ...level, role: 'admin' } }),
      'not_eligible',
    ],
    [
      'someone outside the level’s group',
      who('ana', 'approver', ['a']),
      ctx({ level: { ...level, group: 'b' } }),
      'not_eligible',
    ],
    [
      'someone in the level’s group',
      who('ana', 'approver', ['b']),
      ctx({ level: { ...level, group: 'b' } }),
      null,
    ],
    ['the person who triggered the run', who('tom'), ctx(), 'four_eyes'],
    ['the person who registered the model', who('rita'), ctx(), 'four_eyes'],
    ['the triggering person when four-eyes is off', who('tom'), ctx({ fourEyes: false }), null],
    ['a second vote at the same level', who('ana'), ctx({ votes: [vote('ana', 'approve')] }), 'duplicate'],
    [
      'a vote at a new level after voting at the previous one',
      who('ana'),
      ctx({ votes: [vote('ana', 'approve', 'escalation')] }),
      null,
    ],
  ] as const)('%s → %s', (_label, approver, context, expected) => {
    const refusal = refuseDecision(
      { approver, name: approver?.name ?? 'ghost', decision: 'approve' },
      context,
    );
    expect(refusal?.code ?? null).toBe(expected);
    if (refusal) expect(refusal.message.length).toBeGreaterThan(10);
  });

  it('refuses a decision made on another evaluation report, and accepts the same one', () => {
    const c = ctx();
    expect(
      refuseDecision(
        { approver: who('ana'), name: 'ana', decision: 'approve', evaluationReportHash: 'b'.repeat(64) },
        c,
      )?.code,
    ).toBe('stale_report');
    expect(
      refuseDecision(
        { approver: who('ana'), name: 'ana', decision: 'approve', evaluationReportHash: 'a'.repeat(64) },
        c,
      ),
    ).toBeNull();
  });
});

describe('openLevel', () => {
  it('reads the open level from a run’s approval state, and none before a round opens', () => {
    expect(openLevel({ level: null, needed: 0, role: null, group: null })).toBeNull();
    expect(openLevel({ level: 'escalation', needed: 2, role: 'admin', group: 'leads' })).toMatchObject({
      level: 'escalation',
      approvers: 2,
      role: 'admin',
      group: 'leads',
    });
  });
});

describe('tallyVotes', () => {
  it('needs the number of distinct approvers the level asks for', () => {
    expect(tallyVotes([], level)).toBeNull();
    expect(tallyVotes([vote('ana', 'approve')], level)).toBeNull();
    expect(tallyVotes([vote('ana', 'approve'), vote('ana', 'approve')], level)).toBeNull();
    expect(tallyVotes([vote('ana', 'approve'), vote('ben', 'approve')], level)).toBe('approved');
  });

  it('rejects on one rejection, and counts only the open level', () => {
    expect(tallyVotes([vote('ana', 'approve'), vote('ben', 'reject')], level)).toBe('rejected');
    const escalation = { ...level, level: 'escalation' as const, approvers: 1 };
    expect(tallyVotes([vote('ana', 'approve'), vote('ben', 'approve')], escalation)).toBeNull();
    expect(tallyVotes([vote('cal', 'approve', 'escalation')], escalation)).toBe('approved');
  });
});

describe('approval policy', () => {
  it('fills defaults that keep old policies valid: one approver, four-eyes, reject on expiry', () => {
    const p = approvalPolicySchema.parse({ required: true, timeoutSeconds: 600 });
    expect(p).toMatchObject({ approvers: 1, role: 'approver', fourEyes: true, onExpiry: 'reject' });
    expect(approvalLevels(p)).toEqual([
      {
        level: 'primary',
        approvers: 1,
        role: 'approver',
        group: null,
        timeoutSeconds: 600,
        reminderBeforeSeconds: null,
      },
    ]);
  });

  it('builds the escalation level, and refuses escalate without one or a reminder after the deadline', () => {
    const p = approvalPolicySchema.parse({
      timeoutSeconds: 60,
      reminderBeforeSeconds: 10,
      onExpiry: 'escalate',
      escalation: { group: 'leads', timeoutSeconds: 120, approvers: 2 },
    });
    expect(approvalLevels(p).map((l) => [l.level, l.approvers, l.group, l.timeoutSeconds])).toEqual([
      ['primary', 1, null, 60],
      ['escalation', 2, 'leads', 120],
    ]);
    expect(approvalPolicySchema.safeParse({ onExpiry: 'escalate' }).success).toBe(false);
    expect(approvalPolicySchema.safeParse({ timeoutSeconds: 10, reminderBeforeSeconds: 10 }).success).toBe(
      false,
    );
  });
});

describe('roles', () => {
  it.each([
    ['viewer', ['read']],
    ['trigger', ['read', 'trigger']],
    ['approver', ['read', 'approve']],
    ['operator', ['read', 'trigger', 'operate']],
    ['admin', ['read', 'trigger', 'approve', 'operate', 'administer']],
  ] as const)('%s may %j and nothing else', (role, allowed) => {
    for (const p of ['read', 'trigger', 'approve', 'operate', 'administer'] as const) {
      expect(can(role, p)).toBe((allowed as readonly string[]).includes(p));
    }
  });
});
