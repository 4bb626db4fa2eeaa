import { ParentClosePolicy, proxyActivities, startChild, condition as waitUntil } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  type ApprovalLevel,
  approvalLevels,
  type Decision,
  type DecisionContext,
  type Refusal,
  refuseDecision,
  tallyVotes,
  type Vote,
} from '../domain/approval';
import type { Policy } from '../domain/policy';
import type { Identity } from '../domain/roles';
import {
  type ApprovalDecisionInput,
  type ApprovalState,
  type NotifyInput,
  notifyWorkflowId,
  type RunWorkflowInput,
} from './messages';
import { notifyWorkflow } from './notify-workflow';

const control = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export const initialApprovalState: ApprovalState = {
  required: false,
  deadline: null,
  decision: null,
  by: null,
  reason: null,
  level: null,
  needed: 0,
  role: null,
  group: null,
  reminderAt: null,
  votes: [],
  refusals: 0,
  evaluationReportHash: null,
};

/** A decision signal waiting to be judged (its sender's identity is looked up first). */
export interface QueuedSignal extends ApprovalDecisionInput {
  readonly decision: Decision;
}

/** What the approval stage reads and writes of the run. */
export interface ApprovalRun {
  readonly input: RunWorkflowInput;
  approval: ApprovalState;
  candidateVersion: number | null;
  /** Signals received and not judged yet. */
  readonly signalInbox: QueuedSignal[];
  /** Votes accepted (from updates or signals) and not recorded in the registry yet. */
  readonly unrecorded: Vote[];
  /** Set when the stage opens: who may not decide under four-eyes. */
  context: Omit<DecisionContext, 'level' | 'votes'> | null;
}

export type ApprovalEnding = { outcome: 'rejected_approval'; reason: string } | null;

/**
 * The approval stage: each level (the first group, then the escalation group
 * if the policy says so) has its own durable deadline and reminder; decisions
 * arrive as updates (judged in their validator) or signals (judged here, after
 * the sender's identity is looked up); every decision, accepted or refused, is
 * recorded; notifications go out on a child workflow, so delivery retries
 * never hold the run up.
 */
export async function approvalStage(
  run: ApprovalRun,
  policy: Policy,
  enterStage: () => Promise<void>,
): Promise<ApprovalEnding> {
  const { model, runId } = run.input;
  const opened = await control.openApproval({ model, runId, candidateVersion: run.candidateVersion });
  run.context = {
    fourEyes: policy.approval.fourEyes,
    triggeredBy: [...new Set(run.input.causes.map((c) => c.requestedBy))],
    registeredBy: opened.registeredBy,
    evaluationReportHash: opened.evaluationReportHash,
  };
  run.approval = { ...run.approval, required: true, evaluationReportHash: opened.evaluationReportHash };

  const levels = approvalLevels(policy.approval);
  let notifications = 0;
  const notify = async (event: NotifyInput['event'], data: Record<string, unknown> = {}) => {
    notifications += 1;
    await startChild(notifyWorkflow, {
      workflowId: notifyWorkflowId(runId, event, notifications),
      args: [
        { event, model, runId, at: new Date().toISOString(), data: { ...data, approval: run.approval } },
      ],
      // Delivery retries outlive the run if they must; the run never waits for them.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  };

  for (const [index, level] of levels.entries()) {
    const deadlineMs = Date.now() + level.timeoutSeconds * 1000;
    const reminderMs =
      level.reminderBeforeSeconds === null ? null : deadlineMs - level.reminderBeforeSeconds * 1000;
    run.approval = {
      ...run.approval,
      level: level.level,
      needed: level.approvers,
      role: level.role,
      group: level.group,
      deadline: new Date(deadlineMs).toISOString(),
      reminderAt: reminderMs === null ? null : new Date(reminderMs).toISOString(),
    };
    if (index === 0) {
      await enterStage();
      await notify('approval.requested');
    } else {
      await notify('approval.escalated', { previousLevel: levels[index - 1]!.level });
    }

    let reminded = false;
    for (;;) {
      await recordVotes(run);
      const result = tallyVotes(run.approval.votes, level);
      if (result !== null) return decide(run, result, notify);
      const signal = run.signalInbox.shift();
      if (signal) {
        await judgeSignal(run, level, signal);
        continue;
      }
      const now = Date.now();
      if (now >= deadlineMs) break;
      if (reminderMs !== null && !reminded && now >= reminderMs) {
        reminded = true;
        await notify('approval.reminder', { deadline: run.approval.deadline });
        continue;
      }
      const wakeAt = reminderMs !== null && !reminded ? reminderMs : deadlineMs;
      await waitUntil(() => run.signalInbox.length > 0 || run.unrecorded.length > 0, wakeAt - now);
    }
  }
  return decide(run, 'expired', notify);
}

/** Judges an update's decision; the validator calls this, so a refusal reaches the caller at once. */
export function refuseUpdate(
  run: ApprovalRun,
  d: { approver?: Identity; by: string; decision: Decision; evaluationReportHash?: string },
): Refusal | null {
  const level = currentLevel(run);
  if (!level || !run.context) return { code: 'not_eligible', message: 'the approval stage is not open yet' };
  if (!d.approver) {
    return {
      code: 'not_eligible',
      message: 'a decision update must carry the approver identity; send the approve/reject signal instead',
    };
  }
  return refuseDecision(
    {
      approver: d.approver,
      name: d.approver.name,
      decision: d.decision,
      evaluationReportHash: d.evaluationReportHash,
    },
    { ...run.context, level, votes: run.approval.votes },
  );
}

/** Adds an accepted vote to the state (and to the queue of votes to record). */
export function acceptVote(
  run: ApprovalRun,
  d: {
    by: string;
    role: Identity['role'];
    decision: Decision;
    reason?: string;
    evaluationReportHash?: string;
  },
  via: Vote['via'],
): Vote {
  const level = currentLevel(run)!;
  const vote: Vote = {
    by: d.by,
    role: d.role,
    decision: d.decision,
    reason: d.reason ?? null,
    at: new Date().toISOString(),
    via,
    level: level.level,
    evaluationReportHash: d.evaluationReportHash ?? run.approval.evaluationReportHash,
  };
  run.approval = { ...run.approval, votes: [...run.approval.votes, vote] };
  run.unrecorded.push(vote);
  return vote;
}

function currentLevel(run: ApprovalRun): ApprovalLevel | null {
  const a = run.approval;
  if (a.level === null || a.role === null) return null;
  return {
    level: a.level,
    approvers: a.needed,
    role: a.role,
    group: a.group,
    timeoutSeconds: 0,
    reminderBeforeSeconds: null,
  };
}

async function judgeSignal(run: ApprovalRun, level: ApprovalLevel, signal: QueuedSignal): Promise<void> {
  const { model, runId } = run.input;
  const approver = await control.resolveIdentity({ name: signal.by });
  // The state may have moved on while the identity was looked up (an update was accepted).
  const refusal = run.approval.decision
    ? { code: 'duplicate' as const, message: `run was already decided: ${run.approval.decision}` }
    : refuseDecision(
        {
          approver,
          name: signal.by,
          decision: signal.decision,
          evaluationReportHash: signal.evaluationReportHash,
        },
        { ...run.context!, level, votes: run.approval.votes },
      );
  if (refusal) {
    run.approval = { ...run.approval, refusals: run.approval.refusals + 1 };
    await control.recordApprovalDecision({
      model,
      runId,
      candidateVersion: run.candidateVersion,
      by: signal.by,
      role: approver?.role ?? null,
      decision: signal.decision,
      reason: signal.reason ?? null,
      via: 'signal',
      level: level.level,
      evaluationReportHash: signal.evaluationReportHash ?? null,
      status: 'refused',
      refusal: refusal.message,
      eventKey: `${runId}:signal-refused:${run.approval.refusals}`,
    });
    return;
  }
  acceptVote(run, { ...signal, role: approver!.role }, 'signal');
}

/** Records accepted votes in the registry (idempotent per run, level and person). */
async function recordVotes(run: ApprovalRun): Promise<void> {
  const { model, runId } = run.input;
  while (run.unrecorded.length > 0) {
    const vote = run.unrecorded[0]!;
    await control.recordApprovalDecision({
      model,
      runId,
      candidateVersion: run.candidateVersion,
      by: vote.by,
      role: vote.role,
      decision: vote.decision,
      reason: vote.reason,
      via: vote.via,
      level: vote.level,
      evaluationReportHash: vote.evaluationReportHash,
      status: 'accepted',
      refusal: null,
      eventKey: `${runId}:vote:${vote.level}:${vote.by}`,
    });
    run.unrecorded.shift();
  }
}

async function decide(
  run: ApprovalRun,
  result: 'approved' | 'rejected' | 'expired',
  notify: (event: NotifyInput['event'], data?: Record<string, unknown>) => Promise<void>,
): Promise<ApprovalEnding> {
  const { model, runId } = run.input;
  const votes = run.approval.votes.filter((v) => v.level === run.approval.level);
  const last = votes[votes.length - 1];
  const rejection = votes.find((v) => v.decision === 'reject');
  run.approval = {
    ...run.approval,
    decision: result === 'approved' ? 'approve' : result === 'rejected' ? 'reject' : 'expired',
    by: result === 'expired' ? 'ctloop' : ((rejection ?? last)?.by ?? null),
    reason:
      result === 'expired'
        ? `no decision before the deadline ${run.approval.deadline} (${run.approval.level} level)`
        : ((rejection ?? last)?.reason ?? null),
  };
  const approval = run.approval;
  await control.recordAudit({
    model,
    runId,
    kind: result === 'approved' ? 'approval' : result === 'rejected' ? 'rejection' : 'approval_expired',
    actor: approval.by ?? 'ctloop',
    reason: approval.reason,
    details: {
      decision: approval.decision,
      level: approval.level,
      deadline: approval.deadline,
      approvers: votes.filter((v) => v.decision === 'approve').map((v) => v.by),
      evaluationReportHash: approval.evaluationReportHash,
    },
    eventKey: `${runId}:approval`,
  });
  await notify('approval.decided');
  if (result === 'approved') return null;
  return {
    outcome: 'rejected_approval',
    reason:
      result === 'expired'
        ? (approval.reason ?? 'approval deadline passed')
        : `rejected by ${approval.by}${approval.reason ? `: ${approval.reason}` : ''}`,
  };
}
