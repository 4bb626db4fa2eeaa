import type { ApprovalPolicy } from './policy';
import { can, type Identity, type Role } from './roles';

/**
 * The rules of the approval stage, pure so that the run workflow applies the
 * same ones to a decision from the API (an update) and from the Temporal UI
 * (a signal), and so that they are tested without a server.
 */

/** One level of approval: the first group, then (on expiry, if the policy says so) the escalation group. */
export interface ApprovalLevel {
  readonly level: 'primary' | 'escalation';
  readonly approvers: number;
  readonly role: 'approver' | 'admin';
  readonly group: string | null;
  readonly timeoutSeconds: number;
  readonly reminderBeforeSeconds: number | null;
}

export function approvalLevels(policy: ApprovalPolicy): ApprovalLevel[] {
  const primary: ApprovalLevel = {
    level: 'primary',
    approvers: policy.approvers,
    role: policy.role,
    group: policy.group ?? null,
    timeoutSeconds: policy.timeoutSeconds,
    reminderBeforeSeconds: policy.reminderBeforeSeconds ?? null,
  };
  if (policy.onExpiry !== 'escalate' || !policy.escalation) return [primary];
  const e = policy.escalation;
  return [
    primary,
    {
      level: 'escalation',
      approvers: e.approvers,
      role: e.role,
      group: e.group ?? null,
      timeoutSeconds: e.timeoutSeconds,
      reminderBeforeSeconds: e.reminderBeforeSeconds ?? null,
    },
  ];
}

/**
 * The open level as a run's approval state describes it (the state keeps its
 * who-may-decide fields; timers are the workflow's business), or null when no
 * level is open.
 */
export function openLevel(state: {
  readonly level: ApprovalLevel['level'] | null;
  readonly needed: number;
  readonly role: ApprovalLevel['role'] | null;
  readonly group: string | null;
}): ApprovalLevel | null {
  if (state.level === null || state.role === null) return null;
  return {
    level: state.level,
    approvers: state.needed,
    role: state.role,
    group: state.group,
    timeoutSeconds: 0,
    reminderBeforeSeconds: null,
  };
}

export type Decision = 'approve' | 'reject';

/** A decision the run accepted. */
export interface Vote {
  readonly by: string;
  readonly role: Role;
  readonly decision: Decision;
  readonly reason: string | null;
  readonly at: string;
  readonly via: 'api' | 'signal';
  readonly level: ApprovalLevel['level'];
  /** The evaluation report the approver decided on. */
  readonly evaluationReportHash: string | null;
}

export type RefusalCode = 'not_eligible' | 'four_eyes' | 'duplicate' | 'stale_report';

export interface Refusal {
  readonly code: RefusalCode;
  readonly message: string;
}

export interface DecisionContext {
  readonly level: ApprovalLevel;
  readonly votes: readonly Vote[];
  readonly fourEyes: boolean;
  /** Who triggered the run (every cause) and who registered the model. */
  readonly triggeredBy: readonly string[];
  readonly registeredBy: string | null;
  /** Hash of the run's evaluation report. */
  readonly evaluationReportHash: string | null;
}

/**
 * Why `approver` may not take this decision now, or null when they may.
 * `approver` is null when the name is not a known identity (a signal can
 * carry any name).
 *
 * @example
 * refuseDecision({ approver: ana, name: 'ana', decision: 'approve' }, ctx)
 * // => { code: 'duplicate', message: 'ana already approved at this level' } on her second try
 */
export function refuseDecision(
  request: { approver: Identity | null; name: string; decision: Decision; evaluationReportHash?: string },
  ctx: DecisionContext,
): Refusal | null {
  const { approver, name } = request;
  const { level } = ctx;
  if (!approver) return { code: 'not_eligible', message: `${name} is not a known identity` };
  if (!can(approver.role, 'approve') || (approver.role !== level.role && approver.role !== 'admin')) {
    return {
      code: 'not_eligible',
      message: `${name} has role ${approver.role}; this ${level.level} approval needs role ${level.role}`,
    };
  }
  if (level.group !== null && !approver.groups.includes(level.group)) {
    return {
      code: 'not_eligible',
      message: `${name} is not in group ${level.group}, which decides the ${level.level} approval`,
    };
  }
  if (ctx.fourEyes) {
    if (ctx.triggeredBy.includes(name)) {
      return { code: 'four_eyes', message: `four-eyes: ${name} triggered this run and may not decide it` };
    }
    if (ctx.registeredBy === name) {
      return { code: 'four_eyes', message: `four-eyes: ${name} registered this model and may not decide it` };
    }
  }
  const earlier = ctx.votes.find((v) => v.level === level.level && v.by === name);
  if (earlier) {
    return { code: 'duplicate', message: `${name} already decided (${earlier.decision}) at this level` };
  }
  if (
    request.evaluationReportHash !== undefined &&
    ctx.evaluationReportHash !== null &&
    request.evaluationReportHash !== ctx.evaluationReportHash
  ) {
    return {
      code: 'stale_report',
      message: `the decision was made on evaluation report ${request.evaluationReportHash.slice(0, 12)}…, but this run's report is ${ctx.evaluationReportHash.slice(0, 12)}…`,
    };
  }
  return null;
}

/**
 * The level's result so far: one rejection rejects; `approvers` distinct
 * approvals approve; otherwise still open (null).
 */
export function tallyVotes(votes: readonly Vote[], level: ApprovalLevel): 'approved' | 'rejected' | null {
  const here = votes.filter((v) => v.level === level.level);
  if (here.some((v) => v.decision === 'reject')) return 'rejected';
  const approvers = new Set(here.filter((v) => v.decision === 'approve').map((v) => v.by));
  return approvers.size >= level.approvers ? 'approved' : null;
}
