import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import { openLevel, type Refusal, refuseDecision } from '../domain/approval';
import type { Identity } from '../domain/roles';
import { bookkeeping, control } from './activity-profiles';
import { acceptVote } from './approval-stage';
import {
  type ApprovalDecisionInput,
  approveSignal,
  CANARY_ACTIONS,
  type CanaryControlInput,
  type CanaryControlRecord,
  canaryControlSignal,
  controlCanaryUpdate,
  type DecisionInput,
  decideUpdate,
  modelFreezeSignal,
  rejectSignal,
  rollbackSignal,
  rollbackUpdate,
  runStateQuery,
} from './messages';
import type { RunTracker } from './run-tracker';

/**
 * The run's message handlers. Messages carry a name only: every handler looks
 * the sender up (the `resolveIdentity` activity) and judges them against the
 * wait the run is in, so a made-up identity in a message decides nothing.
 * Updates are checked cheaply in their validator first (a refusal there never
 * reaches the history); whatever is refused after the look-up, and every
 * refused or malformed signal, is audited by the run with why.
 */
export function installRunHandlers(run: RunTracker): void {
  setHandler(runStateQuery, () => run.snapshot());
  setHandler(modelFreezeSignal, (f) => {
    run.freeze = f;
  });

  setHandler(approveSignal, (d) => decideBySignal(run, 'approve', d));
  setHandler(rejectSignal, (d) => decideBySignal(run, 'reject', d));
  setHandler(
    decideUpdate,
    async (d) => {
      const refusal = await judgeDecision(run, d, 'api');
      if (refusal) throw refusedByRun(refusal.message, refusal.code);
      return run.approval;
    },
    {
      validator: (d) => {
        if (d?.decision !== 'approve' && d?.decision !== 'reject') {
          throw ApplicationFailure.nonRetryable('decision must be approve or reject', 'InvalidDecision');
        }
        // An ApplicationFailure rejects the update cleanly; a plain Error would fail the workflow task.
        const refusal = run.decisionRefusal(d);
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'DecisionRefused');
      },
    },
  );

  setHandler(canaryControlSignal, async (c) => {
    if (!c || !CANARY_ACTIONS.includes(c.action) || typeof c.by !== 'string' || c.by === '') {
      await auditMalformed(
        run,
        'canaryControl',
        c,
        `a control needs an action (${CANARY_ACTIONS.join(', ')}) and \`by\``,
      );
      return;
    }
    await applyControl(run, c, 'signal');
  });
  setHandler(
    controlCanaryUpdate,
    async (c) => {
      const record = await applyControl(run, c, 'api');
      if (!record.accepted) throw refusedByRun(record.refusal!, 'ControlRefused');
      return record;
    },
    {
      validator: (c) => {
        if (!c || !CANARY_ACTIONS.includes(c.action)) {
          throw ApplicationFailure.nonRetryable(
            `action must be one of ${CANARY_ACTIONS.join(', ')}`,
            'InvalidControl',
          );
        }
        if (typeof c.by !== 'string' || c.by === '') {
          throw ApplicationFailure.nonRetryable('a control needs `by`, who sends it', 'InvalidControl');
        }
        const refusal = run.controlRefusal(c);
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'ControlRefused');
      },
    },
  );

  setHandler(rollbackSignal, async (r) => {
    if (typeof r?.by !== 'string' || r.by === '') {
      await auditMalformed(run, 'rollback', r, 'a rollback needs `by`, who asks for it');
      return;
    }
    await requestRollback(run, r, 'signal');
  });
  setHandler(
    rollbackUpdate,
    async (r) => {
      const refusal = await requestRollback(run, r, 'api');
      if (refusal) throw refusedByRun(refusal, 'RollbackRefused');
      return { accepted: true as const };
    },
    {
      validator: (r) => {
        const refusal = run.rollbackRefusal(r);
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'RollbackRefused');
      },
    },
  );
}

async function decideBySignal(run: RunTracker, decision: 'approve' | 'reject', d: ApprovalDecisionInput) {
  if (typeof d?.by !== 'string' || d.by.trim() === '') {
    await auditMalformed(run, decision, d, 'a decision needs `by`, who decides');
    return;
  }
  await judgeDecision(run, { ...d, decision, reason: stringOrUndefined(d.reason) }, 'signal');
}

/**
 * Looks the decider up and judges the decision against the open round; an
 * accepted vote is answered once it is recorded and counted (so the caller
 * sees whether it decided the run), a refused one once its refusal is recorded.
 */
function judgeDecision(run: RunTracker, d: DecisionInput, via: 'api' | 'signal'): Promise<Refusal | null> {
  const judged = run.decisions.then(() => judgeInTurn(run, d, via));
  run.decisions = judged.catch(() => undefined);
  return judged;
}

async function judgeInTurn(
  run: RunTracker,
  d: DecisionInput,
  via: 'api' | 'signal',
): Promise<Refusal | null> {
  const approver = await control.resolveIdentity({ name: d.by });
  // Judged after the look-up: the run may have moved on (another vote decided it, the round ended).
  const early = run.decisionRefusal(d);
  const level = openLevel(run.approval);
  const refusal: Refusal | null =
    early !== null || !level || !run.context
      ? { code: 'duplicate', message: early ?? 'the approval stage is not open' }
      : refuseDecision(
          { approver, name: d.by, decision: d.decision, evaluationReportHash: d.evaluationReportHash },
          { ...run.context, level, votes: run.approval.votes },
        );
  if (refusal) {
    run.refused += 1;
    if (via === 'signal') run.approval = { ...run.approval, refusals: run.approval.refusals + 1 };
    await control.recordApprovalDecision({
      model: run.input.model,
      runId: run.input.runId,
      candidateVersion: run.candidateVersion,
      by: d.by,
      role: approver?.role ?? null,
      decision: d.decision,
      reason: d.reason ?? null,
      via,
      level: level?.level ?? null,
      evaluationReportHash: d.evaluationReportHash ?? null,
      status: 'refused',
      refusal: refusal.message,
      eventKey: `${run.input.runId}:refused:${run.refused}`,
    });
    return refusal;
  }
  const vote = acceptVote(run, { ...d, role: approver!.role }, via);
  await condition(() => !run.unrecorded.includes(vote));
  return null;
}

/** Looks the operator up, judges the control against the run's wait, applies it, audits it. */
async function applyControl(
  run: RunTracker,
  c: CanaryControlInput,
  via: 'api' | 'signal',
): Promise<CanaryControlRecord> {
  const operator = await control.resolveIdentity({ name: c.by });
  const refusal = run.controlRefusal(c, operator);
  const record: CanaryControlRecord = {
    action: c.action,
    by: c.by,
    reason: stringOrUndefined(c.reason) ?? null,
    at: new Date().toISOString(),
    via,
    accepted: refusal === null,
    refusal,
  };
  run.controls = [...run.controls, record];
  if (refusal === null) run.applyControl({ ...c, reason: record.reason ?? undefined });
  await bookkeeping.recordAudit({
    model: run.input.model,
    runId: run.input.runId,
    kind: refusal === null ? `canary_${c.action.replace('-', '_')}` : 'canary_control_refused',
    actor: c.by,
    reason: refusal ?? record.reason,
    details: { action: c.action, via, stage: run.stage, weight: run.canaryWeight },
    eventKey: `${run.input.runId}:control:${run.controls.length}`,
  });
  return record;
}

async function requestRollback(
  run: RunTracker,
  r: { by: string; reason?: unknown },
  via: 'api' | 'signal',
): Promise<string | null> {
  const who: Identity | null = await control.resolveIdentity({ name: r.by });
  const refusal = run.rollbackRefusal(r, who);
  const reason = stringOrUndefined(r.reason) ?? `rollback by ${r.by}`;
  if (refusal === null) run.rollback = { by: r.by, reason };
  else {
    run.refused += 1;
    await bookkeeping.recordAudit({
      model: run.input.model,
      runId: run.input.runId,
      kind: 'rollback_refused',
      actor: r.by,
      reason: refusal,
      details: { via, stage: run.stage, asked: reason },
      eventKey: `${run.input.runId}:refused:${run.refused}`,
    });
  }
  return refusal;
}

/** A signal with no sender or the wrong types: nobody can be answered, so the audit says why. */
async function auditMalformed(run: RunTracker, signal: string, payload: unknown, why: string): Promise<void> {
  run.refused += 1;
  let shown: string;
  try {
    shown = JSON.stringify(payload) ?? String(payload);
  } catch {
    shown = String(payload);
  }
  const audit = {
    model: run.input.model,
    runId: run.input.runId,
    kind: 'signal_refused',
    actor: 'unknown',
    reason: `${signal} signal refused: ${why}`,
    // Bounded, so a flood of large payloads cannot bloat the history through the audit's input.
    details: { signal, payload: shown.slice(0, 200), stage: run.stage },
    eventKey: `${run.input.runId}:refused:${run.refused}`,
  };
  // While the run hands over to its next execution, a flood must not keep a handler always in flight.
  if (run.continuing) {
    run.deferredAudits.push(audit);
    return;
  }
  await bookkeeping.recordAudit(audit);
}

/** A refusal the run judged and audited itself (the API then records nothing more). */
function refusedByRun(message: string, type: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type, { audited: true });
}

function stringOrUndefined(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
