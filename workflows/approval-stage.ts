import { ParentClosePolicy, startChild } from '@temporalio/workflow';
import {
  type ApprovalLevel,
  approvalLevels,
  type Decision,
  type DecisionContext,
  openLevel,
  tallyVotes,
  type Vote,
} from '../domain/approval';
import type { Policy } from '../domain/policy';
import type { Identity } from '../domain/roles';
import { bookkeeping, control } from './activity-profiles';
import {
  type ApprovalPosition,
  type ApprovalState,
  type NotifyInput,
  notifyWorkflowId,
  type RunWorkflowInput,
} from './messages';
import { notifyWorkflow } from './notify-workflow';
import { WorkflowClock } from './workflow-clock';

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
  purpose: null,
  question: null,
  fourEyes: false,
};

/** What the approval stage reads and writes of the run. */
export interface ApprovalRun {
  readonly input: RunWorkflowInput;
  approval: ApprovalState;
  candidateVersion: number | null;
  /** Votes accepted (from updates or signals) and not recorded in the registry yet. */
  readonly unrecorded: Vote[];
  /** Set when a round opens: who may not decide under four-eyes. */
  context: Omit<DecisionContext, 'level' | 'votes'> | null;
  /** The open round's name (`approval`, `canary-10`, …), part of every record's idempotency key. */
  round: string | null;
}

/**
 * Where a round may continue as new: `heavy` says when (checked while the
 * round waits), `save` continues as new with the round's position (and
 * returns only if a message changed the round meanwhile); `resume` is the
 * position a previous execution saved.
 */
export interface RoundCheckpoint {
  readonly heavy: () => boolean;
  readonly save: (position: ApprovalPosition) => Promise<void>;
  readonly resume?: ApprovalPosition;
}

export type ApprovalEnding = { outcome: 'rejected_approval'; reason: string } | null;

/** One round of human decisions: who decides (levels), about what, and how it is recorded. */
export interface DecisionRound {
  readonly round: string;
  readonly purpose: 'promotion' | 'canary';
  readonly question: string;
  readonly levels: readonly ApprovalLevel[];
  readonly fourEyes: boolean;
  readonly registeredBy: string | null;
  readonly evaluationReportHash: string | null;
  /** Called once the first level is open (the approval stage enters its stage here). */
  readonly onOpen: () => Promise<void>;
  /** Ends the round at once, unanswered (a rollback or promote-now during a canary question). */
  readonly interrupted?: () => boolean;
  /** Continue-as-new at the round's safe points (see `RoundCheckpoint`). */
  readonly checkpoint?: RoundCheckpoint;
  /** Audit event kinds and key of the round's result. */
  readonly audit: {
    readonly key: string;
    readonly approved: string;
    readonly rejected: string;
    readonly expired: string;
  };
}

/**
 * The approval stage: the policy's levels (the first group, then the
 * escalation group if the policy says so), four-eyes, and the evaluation
 * report's hash that every decision is checked against.
 */
export async function approvalStage(
  run: ApprovalRun,
  policy: Policy,
  enterStage: () => Promise<void>,
  checkpoint?: RoundCheckpoint,
): Promise<ApprovalEnding> {
  const { model, runId } = run.input;
  // A resumed round was opened by an earlier execution: what it was opened with is carried.
  const opened = checkpoint?.resume
    ? {
        registeredBy: run.context?.registeredBy ?? null,
        evaluationReportHash: run.approval.evaluationReportHash,
      }
    : await control.openApproval({ model, runId, candidateVersion: run.candidateVersion });
  const result = await decisionRound(run, {
    round: 'approval',
    purpose: 'promotion',
    question: `promote version ${run.candidateVersion} of ${model}?`,
    levels: approvalLevels(policy.approval),
    fourEyes: policy.approval.fourEyes,
    registeredBy: opened.registeredBy,
    evaluationReportHash: opened.evaluationReportHash,
    onOpen: enterStage,
    checkpoint,
    audit: {
      key: `${runId}:approval`,
      approved: 'approval',
      rejected: 'rejection',
      expired: 'approval_expired',
    },
  });
  if (result === 'approved') return null;
  const approval = run.approval;
  return {
    outcome: 'rejected_approval',
    reason:
      result !== 'rejected'
        ? (approval.reason ?? 'approval deadline passed')
        : `rejected by ${approval.by}${approval.reason ? `: ${approval.reason}` : ''}`,
  };
}

/**
 * Collects human decisions for one round: each level has its own durable
 * deadline and reminder; decisions arrive as updates or signals, judged by
 * the run's handlers after the sender is looked up (run-handlers.ts); every
 * decision, accepted or refused, is recorded; notifications go out on child
 * workflows, so delivery retries never hold the run up.
 */
export async function decisionRound(run: ApprovalRun, spec: DecisionRound): Promise<RoundResult> {
  try {
    return await collectDecisions(run, spec);
  } finally {
    // Votes accepted by handlers waiting on their record are answered even if the round was cut short.
    if (run.unrecorded.length > 0) await recordVotes(run);
    run.round = null;
  }
}

export type RoundResult = 'approved' | 'rejected' | 'expired' | 'interrupted';

async function collectDecisions(run: ApprovalRun, spec: DecisionRound): Promise<RoundResult> {
  const { model, runId } = run.input;
  run.round = spec.round;
  run.context = {
    fourEyes: spec.fourEyes,
    triggeredBy: [...new Set(run.input.causes.map((c) => c.requestedBy))],
    registeredBy: spec.registeredBy,
    evaluationReportHash: spec.evaluationReportHash,
  };
  const resume = spec.checkpoint?.resume;
  if (!resume) {
    run.approval = {
      ...initialApprovalState,
      required: true,
      evaluationReportHash: spec.evaluationReportHash,
      purpose: spec.purpose,
      question: spec.question,
      fourEyes: spec.fourEyes,
    };
  }
  const prefix = spec.purpose === 'promotion' ? 'approval' : 'canary';
  // Carried, so that notification workflow ids stay unique across executions.
  let notifications = resume?.notifications ?? 0;
  const notify = async (
    what: 'requested' | 'reminder' | 'escalated' | 'decided',
    data: Record<string, unknown> = {},
  ) => {
    notifications += 1;
    const event: NotifyInput['event'] = `${prefix}.${what}`;
    await startChild(notifyWorkflow, {
      workflowId: notifyWorkflowId(runId, `${spec.round}.${what}`, notifications),
      args: [
        { event, model, runId, at: new Date().toISOString(), data: { ...data, approval: run.approval } },
      ],
      // Delivery retries outlive the run if they must; the run never waits for them.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  };

  const { levels } = spec;
  // Deadlines and reminders are decided against it, so a round ends on its fired timer whatever
  // the clock of the task delivering it says (workflows/workflow-clock.ts).
  const clock = new WorkflowClock();
  for (const [index, level] of levels.entries()) {
    if (resume && index < resume.levelIndex) continue;
    const resumed = resume?.levelIndex === index;
    const deadlineMs = resumed ? resume.deadlineMs : clock.now() + level.timeoutSeconds * 1000;
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
    if (resumed) {
      // Opened, notified and entered by an earlier execution.
    } else if (index === 0) {
      await spec.onOpen();
      await notify('requested');
    } else {
      await notify('escalated', { previousLevel: levels[index - 1]!.level });
    }

    let reminded = resumed ? resume.reminded : false;
    const interrupted = spec.interrupted ?? (() => false);
    const heavy = spec.checkpoint?.heavy ?? (() => false);
    for (;;) {
      await recordVotes(run);
      const result = tallyVotes(run.approval.votes, level);
      if (result !== null) return finishRound(run, spec, result, notify);
      if (interrupted()) return 'interrupted';
      const now = clock.now();
      if (now >= deadlineMs) break;
      if (reminderMs !== null && !reminded && now >= reminderMs) {
        reminded = true;
        await notify('reminder', { deadline: run.approval.deadline });
        continue;
      }
      if (heavy()) {
        await spec.checkpoint!.save({ levelIndex: index, deadlineMs, reminded, notifications });
        continue; // a message changed the round meanwhile: record it first
      }
      const wakeAt = reminderMs !== null && !reminded ? reminderMs : deadlineMs;
      await clock.waitUntil(() => run.unrecorded.length > 0 || interrupted() || heavy(), wakeAt);
    }
  }
  return finishRound(run, spec, 'expired', notify);
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
  const level = openLevel(run.approval)!;
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
      eventKey: `${runId}:${run.round}:vote:${vote.level}:${vote.by}`,
    });
    run.unrecorded.shift();
  }
}

async function finishRound(
  run: ApprovalRun,
  spec: DecisionRound,
  result: 'approved' | 'rejected' | 'expired',
  notify: (what: 'decided', data?: Record<string, unknown>) => Promise<void>,
): Promise<'approved' | 'rejected' | 'expired'> {
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
  await bookkeeping.recordAudit({
    model,
    runId,
    kind: spec.audit[result],
    actor: approval.by ?? 'ctloop',
    reason: approval.reason,
    details: {
      question: spec.question,
      decision: approval.decision,
      level: approval.level,
      deadline: approval.deadline,
      approvers: votes.filter((v) => v.decision === 'approve').map((v) => v.by),
      evaluationReportHash: approval.evaluationReportHash,
    },
    eventKey: spec.audit.key,
  });
  await notify('decided');
  return result;
}
