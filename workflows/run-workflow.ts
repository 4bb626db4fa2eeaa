import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DecisionContext, Vote } from '../domain/approval';
import {
  type CanarySequentialState,
  canaryStepVerdict,
  type VersionTraffic,
} from '../domain/canary-analysis';
import { type Policy, parsePolicy } from '../domain/policy';
import { heavy } from './activity-profiles';
import {
  acceptVote,
  approvalStage,
  initialApprovalState,
  type QueuedSignal,
  refuseUpdate,
} from './approval-stage';
import {
  type ApprovalDecisionInput,
  type ApprovalState,
  approveSignal,
  CANARY_ACTIONS,
  type CanaryControlRecord,
  type CanaryStepState,
  canaryControlSignal,
  controlCanaryUpdate,
  ctOutcomeKey,
  ctStageKey,
  type DecisionInput,
  decideUpdate,
  type FreezeRequest,
  modelFreezeSignal,
  type Outcome,
  type RollbackInput,
  type RunResult,
  type RunState,
  type RunWorkflowInput,
  rejectSignal,
  rollbackSignal,
  rollbackUpdate,
  runStageSignal,
  runStateQuery,
  runWorkflowId,
  type Stage,
  type TrainingState,
} from './messages';
import { bake, canary, controlRefusal, promote, type QueuedControl, type RolloutRun } from './rollout-stage';
import { initialTrainingState, trainWithBudgets } from './training-stage';

// Two timeout profiles: quick control calls, and long training that heartbeats.
const control = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

type Ending = { outcome: Outcome; reason: string };

/** The run's state, held in one place so handlers and the query read the same thing. */
class RunTracker implements RolloutRun {
  stage: Stage = 'queued';
  training: TrainingState = initialTrainingState;
  candidateVersion: number | null = null;
  championVersion: number | null = null;
  approval: ApprovalState = initialApprovalState;
  /**
   * `levels`: the approval stage with identities, levels, four-eyes and
   * notifications; `legacy`: the single-decision stage of runs recorded
   * before it (kept so their histories replay).
   */
  approvalMode: 'legacy' | 'levels' | null = null;
  readonly signalInbox: QueuedSignal[] = [];
  readonly unrecorded: Vote[] = [];
  context: Omit<DecisionContext, 'level' | 'votes'> | null = null;
  round: string | null = null;
  canaryWeight = 0;
  paused = false;
  promoteNow: { by: string; reason: string } | null = null;
  readonly controlInbox: QueuedControl[] = [];
  controls: CanaryControlRecord[] = [];
  baseline: VersionTraffic | null = null;
  /** The model's freeze, as its workflow forwards it: a frozen model neither canaries nor promotes. */
  freeze: FreezeRequest = { frozen: false, reason: null, by: '' };
  canarySteps: CanaryStepState[] = [];
  bakeEndsAt: string | null = null;
  rollback: RollbackInput | null = null;
  ending: Ending | null = null;
  /** Routing was changed by this run and must be restored if it does not promote. */
  routingTouched = false;

  constructor(readonly input: RunWorkflowInput) {}

  snapshot(): RunState {
    return {
      model: this.input.model,
      runId: this.input.runId,
      stage: this.stage,
      causes: this.input.causes,
      candidateVersion: this.candidateVersion,
      championVersion: this.championVersion,
      training: this.training,
      approval: this.approval,
      canary: {
        weight: this.canaryWeight,
        steps: this.canarySteps,
        paused: this.paused,
        controls: this.controls,
      },
      bakeEndsAt: this.bakeEndsAt,
      outcome: this.ending?.outcome ?? null,
      reason: this.ending?.reason ?? null,
    };
  }

  /** Why a decision cannot be taken now, or null when it can. */
  decisionRefusal(d: DecisionInput | { by: string }): string | null {
    if (!d.by || typeof d.by !== 'string' || d.by.trim() === '') return 'a decision needs `by`, who decides';
    if (this.approvalMode !== 'levels') {
      if (this.stage !== 'approve') return `run is not waiting for approval (stage: ${this.stage})`;
    } else if (this.round === null || this.approval.level === null) {
      return `run is not waiting for a decision (stage: ${this.stage})`;
    }
    if (this.approval.decision !== null) return `run was already decided: ${this.approval.decision}`;
    return null;
  }

  decide(decision: 'approve' | 'reject', d: { by: string; reason?: string }): void {
    this.approval = { ...this.approval, decision, by: d.by, reason: d.reason ?? null };
  }

  rollbackRefusal(r: RollbackInput): string | null {
    if (!r.by || typeof r.by !== 'string') return 'a rollback needs `by`, who asks for it';
    if (this.stage !== 'canary' && this.stage !== 'bake') {
      return `nothing to roll back: run is in stage ${this.stage}`;
    }
    return null;
  }
}

/**
 * One CT run, read top to bottom as the stages of the loop: validate → train
 * → evaluate → approve → canary → bake. It always ends in exactly one
 * outcome, recorded in the registry and in the CtOutcome search attribute.
 */
export async function runWorkflow(input: RunWorkflowInput): Promise<RunResult> {
  const run = new RunTracker(input);

  setHandler(runStateQuery, () => run.snapshot());
  setHandler(approveSignal, (d) => applySignalDecision(run, 'approve', d));
  setHandler(rejectSignal, (d) => applySignalDecision(run, 'reject', d));
  setHandler(
    decideUpdate,
    async (d) => {
      if (run.approvalMode === 'levels') {
        // Re-judged here too: two updates validated in one activation must not both pass as one person.
        const refusal = run.decisionRefusal(d) ?? refuseUpdate(run, d)?.message;
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'DecisionRefused');
        const vote = acceptVote(run, { ...d, by: d.approver!.name, role: d.approver!.role }, 'api');
        // Answer once the vote is recorded and counted, so the caller sees whether it decided the run.
        await condition(() => !run.unrecorded.includes(vote));
      } else {
        run.decide(d.decision, d);
      }
      return run.approval;
    },
    {
      validator: (d) => {
        if (d.decision !== 'approve' && d.decision !== 'reject') {
          throw ApplicationFailure.nonRetryable('decision must be approve or reject', 'InvalidDecision');
        }
        // An ApplicationFailure rejects the update cleanly; a plain Error would fail the workflow task.
        const refusal = run.decisionRefusal(d);
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'DecisionRefused');
        if (run.approvalMode === 'levels') {
          const ruled = refuseUpdate(run, d);
          if (ruled) throw ApplicationFailure.nonRetryable(ruled.message, ruled.code);
        }
      },
    },
  );
  setHandler(modelFreezeSignal, (f) => {
    run.freeze = f;
  });
  setHandler(canaryControlSignal, (c) => {
    if (c && CANARY_ACTIONS.includes(c.action) && typeof c.by === 'string' && c.by !== '') {
      run.controlInbox.push({ action: c.action, by: c.by, reason: c.reason, via: 'signal' });
    } else {
      log.warn('canary control signal ignored: it needs an action and `by`', { control: c });
    }
  });
  setHandler(
    controlCanaryUpdate,
    // Answered with this control's own record, once it is applied (or refused) and audited.
    (c) =>
      new Promise<CanaryControlRecord>((settle) => {
        run.controlInbox.push({ ...c, by: c.operator!.name, via: 'api', settle });
      }),
    {
      validator: (c) => {
        if (!c || !CANARY_ACTIONS.includes(c.action)) {
          throw ApplicationFailure.nonRetryable(
            `action must be one of ${CANARY_ACTIONS.join(', ')}`,
            'InvalidControl',
          );
        }
        const refusal = controlRefusal(run, c, c.operator ?? null);
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'ControlRefused');
      },
    },
  );
  setHandler(rollbackSignal, (r) => {
    if (run.rollbackRefusal(r) === null && run.rollback === null) run.rollback = r;
  });
  setHandler(
    rollbackUpdate,
    (r) => {
      run.rollback ??= r;
      return { accepted: true as const };
    },
    {
      validator: (r) => {
        const refusal = run.rollbackRefusal(r);
        if (refusal) throw ApplicationFailure.nonRetryable(refusal, 'RollbackRefused');
      },
    },
  );

  try {
    run.ending = await runStages(run);
  } catch (err) {
    if (isCancellation(err)) {
      run.ending = { outcome: 'cancelled', reason: 'run was cancelled' };
      await CancellationScope.nonCancellable(() => finish(run));
      throw err;
    }
    run.ending = { outcome: 'failed', reason: describeFailure(err) };
    log.error('run failed', { runId: input.runId, error: run.ending.reason });
  }
  await finish(run);
  return {
    runId: input.runId,
    outcome: run.ending.outcome,
    reason: run.ending.reason,
    candidateVersion: run.candidateVersion,
  };
}

async function runStages(run: RunTracker): Promise<Ending> {
  const { model, runId } = run.input;
  const began = await control.beginRun({
    model,
    runId,
    workflowId: runWorkflowId(model, runId),
    causes: run.input.causes,
  });
  // Re-parsed here so that a run that began under an older ctloop (an older policy snapshot in its
  // history) gets defaults for fields added since, and replays the same way.
  const policy = parsePolicy(began.policy);
  const { dataUri } = began;
  run.championVersion = began.championVersion;

  await enterStage(run, 'validate');
  const validation = await heavy.validateData({
    dataUri,
    schema: policy.schema,
    rules: policy.validation,
  });
  await control.saveRunReport({ runId, name: 'validation', report: validation });
  if (!validation.ok) return { outcome: 'rejected_data', reason: validation.summary };

  await enterStage(run, 'train');
  const training = await trainWithBudgets(run.input, policy, dataUri, run);
  await control.saveRunReport({
    runId,
    name: 'trainingAttempts',
    report: { ...run.training, result: training.ok ? training.trained : null },
  });
  if (!training.ok) return { outcome: 'failed', reason: training.reason };
  const trained = training.trained;
  const { version } = await control.registerCandidate({
    model,
    runId,
    artifactUri: trained.artifactUri,
    metrics: { train: trained.metrics, steps: trained.steps },
    dataUri,
    dataHash: validation.dataHash,
    params: { trainer: policy.training.trainer, ...policy.training.params },
  });
  run.candidateVersion = version;

  await enterStage(run, 'evaluate');
  const evaluation = await heavy.evaluateCandidate({
    model,
    candidateVersion: version,
    championVersion: run.championVersion,
    dataUri,
    schema: policy.schema,
    holdoutFraction: policy.training.holdoutFraction,
    policy: policy.evaluation,
  });
  await control.saveRunReport({ runId, name: 'evaluation', report: evaluation });
  if (evaluation.verdict.decision !== 'pass') {
    return { outcome: 'rejected_eval', reason: evaluation.verdict.reasons.join('; ') };
  }

  if (policy.approval.required) {
    // Runs recorded before approval levels existed replay the single-decision stage.
    run.approvalMode = patched('approval-levels') ? 'levels' : 'legacy';
    const refusal =
      run.approvalMode === 'levels'
        ? await approvalStage(run, policy, () => enterStage(run, 'approve'))
        : await awaitSingleApproval(run, policy);
    if (refusal) return refusal;
  }

  const previousChampion = run.championVersion;
  // Runs recorded before the promotion saga replay the single-transaction promotion and plain bake.
  const saga = patched('rollout-saga');
  if (previousChampion !== null) {
    if (saga) await holdWhileFrozen(run, 'the canary');
    await enterStage(run, 'canary');
    const canaryEnding = saga
      ? await canary(run, policy, previousChampion, version, (actor, reason) =>
          restore(run, previousChampion, actor, reason),
        )
      : await legacyCanary(run, policy, previousChampion, version);
    if (canaryEnding) return canaryEnding;
  }
  if (saga) {
    const reason =
      previousChampion === null
        ? 'first model passed evaluation'
        : run.promoteNow
          ? `promoted now by ${run.promoteNow.by} at ${run.canarySteps.at(-1)?.weight ?? 0} %: ${run.promoteNow.reason}`
          : `canary passed ${policy.canary.steps.join(' → ')} %`;
    await holdWhileFrozen(run, 'the promotion');
    const undo = await promote(run, version, previousChampion, reason, run.promoteNow?.by ?? 'ctloop');
    if (previousChampion === null) return { outcome: 'promoted', reason: 'first champion of this model' };
    await enterStage(run, 'bake');
    return bake(run, policy, version, previousChampion, undo);
  }

  await control.promoteCandidate({
    model,
    runId,
    version,
    actor: 'ctloop',
    reason:
      previousChampion === null
        ? 'first model passed evaluation'
        : `canary passed ${policy.canary.steps.join(' → ')} %`,
  });
  run.routingTouched = false;
  // The first model has nothing to roll back to, so it needs no bake window.
  if (previousChampion === null) return { outcome: 'promoted', reason: 'first champion of this model' };
  return legacyBake(run, policy, previousChampion);
}

/**
 * Waits (durably) while the model is frozen, recording that the run was held
 * and for how long; an operator may still cancel or roll back meanwhile.
 */
async function holdWhileFrozen(run: RunTracker, what: string): Promise<void> {
  if (!run.freeze.frozen) return;
  const { model, runId } = run.input;
  const since = Date.now();
  await control.recordAudit({
    model,
    runId,
    kind: 'held_frozen',
    actor: 'ctloop',
    reason: `${what} waits: model frozen by ${run.freeze.by}: ${run.freeze.reason ?? 'no reason given'}`,
    details: { what },
    eventKey: `${runId}:held-frozen:${what}`,
  });
  await condition(() => !run.freeze.frozen);
  await control.recordAudit({
    model,
    runId,
    kind: 'released_unfrozen',
    actor: run.freeze.by || 'ctloop',
    reason: `${what} goes on after ${Math.round((Date.now() - since) / 1000)} s frozen`,
    details: { what },
    eventKey: `${runId}:released-unfrozen:${what}`,
  });
}

/** The approval stage as it was before levels (one decision, no identities); kept for replay. */
async function awaitSingleApproval(run: RunTracker, policy: Policy): Promise<Ending | null> {
  const timeoutMs = policy.approval.timeoutSeconds * 1000;
  run.approval = {
    ...run.approval,
    required: true,
    deadline: new Date(Date.now() + timeoutMs).toISOString(),
  };
  await enterStage(run, 'approve');
  const decided = await condition(() => run.approval.decision !== null, timeoutMs);
  const { model, runId } = run.input;
  if (!decided) {
    run.approval = { ...run.approval, decision: 'expired', by: 'ctloop', reason: 'approval deadline passed' };
  }
  const approval = run.approval;
  await control.recordAudit({
    model,
    runId,
    kind: approval.decision === 'approve' ? 'approval' : 'rejection',
    actor: approval.by ?? 'unknown',
    reason: approval.reason,
    details: { decision: approval.decision, deadline: approval.deadline },
    eventKey: `${runId}:approval`,
  });
  if (approval.decision === 'approve') return null;
  return {
    outcome: 'rejected_approval',
    reason:
      approval.decision === 'expired'
        ? `no decision before the deadline ${approval.deadline}`
        : `rejected by ${approval.by}${approval.reason ? `: ${approval.reason}` : ''}`,
  };
}

/** The canary as runs recorded before operator controls ran it; kept for replay. */
async function legacyCanary(
  run: RunTracker,
  policy: Policy,
  champion: number,
  candidate: number,
): Promise<Ending | null> {
  const { model, runId } = run.input;
  const rules = policy.canary;
  for (const weight of rules.steps.filter((w) => w < 100)) {
    run.routingTouched = true;
    run.canaryWeight = weight;
    const { since } = await control.setCanaryWeight({
      model,
      championVersion: champion,
      candidateVersion: candidate,
      weight,
    });
    const stepStarted = Date.now();
    // The sequential tests' always-valid p-values, carried from look to look within the step.
    let sequential: CanarySequentialState | undefined;
    for (;;) {
      if (await condition(() => run.rollback !== null, rules.pollSeconds * 1000)) {
        return restore(
          run,
          champion,
          run.rollback!.by,
          `operator rollback during canary: ${run.rollback!.reason}`,
        );
      }
      const traffic = await control.canaryTraffic({
        model,
        championVersion: champion,
        candidateVersion: candidate,
        since,
        latencySample: rules.latencySampleSize,
      });
      const result = canaryStepVerdict({
        ...traffic,
        elapsedSeconds: (Date.now() - stepStarted) / 1000,
        policy: rules,
        previous: sequential,
      });
      sequential = result.sequential;
      if (result.verdict === 'wait') continue;
      run.canarySteps = [
        ...run.canarySteps,
        {
          weight,
          verdict: result.verdict,
          reasons: result.reasons,
          championRequests: traffic.champion.requests,
          candidateRequests: traffic.candidate.requests,
        },
      ];
      await control.saveRunReport({ runId, name: 'canary', report: run.canarySteps });
      if (result.verdict === 'pass') break;
      if (result.verdict === 'inconclusive' && rules.onInconclusive === 'proceed') break;
      return restore(
        run,
        champion,
        'ctloop',
        `canary ${result.verdict} at ${weight} %: ${result.reasons.join('; ')}`,
      );
    }
  }
  run.canaryWeight = 100;
  return null;
}

/** The bake window as runs recorded before the promotion saga ran it; kept for replay. */
async function legacyBake(run: RunTracker, policy: Policy, previousChampion: number): Promise<Ending> {
  await enterStage(run, 'bake');
  run.bakeEndsAt = new Date(Date.now() + policy.bake.seconds * 1000).toISOString();
  const rolledBack = await condition(() => run.rollback !== null, policy.bake.seconds * 1000);
  if (!rolledBack) return { outcome: 'promoted', reason: `bake window of ${policy.bake.seconds} s passed` };
  const request = run.rollback!;
  return restore(run, previousChampion, request.by, `rollback during bake: ${request.reason}`);
}

async function restore(run: RunTracker, champion: number, actor: string, reason: string): Promise<Ending> {
  await control.restoreChampion({
    model: run.input.model,
    runId: run.input.runId,
    version: champion,
    actor,
    reason,
  });
  run.routingTouched = false;
  run.canaryWeight = 0;
  return { outcome: 'rolled_back', reason };
}

async function enterStage(run: RunTracker, stage: Stage): Promise<void> {
  run.stage = stage;
  upsertSearchAttributes([{ key: ctStageKey, value: stage }]);
  // The model workflow holds triggers while its run is in canary or bake; runs recorded before
  // this signal existed replay without it.
  const parent = workflowInfo().parent;
  if (parent && patched('run-stage-to-parent')) {
    getExternalWorkflowHandle(parent.workflowId)
      .signal(runStageSignal, { runId: run.input.runId, stage })
      .catch((err) => log.warn('could not tell the model workflow the stage', { stage, error: String(err) }));
  }
  await control.setRunStage({ runId: run.input.runId, stage });
}

/** Records the outcome; if the run changed routing and did not promote, routing goes back to the champion. */
async function finish(run: RunTracker): Promise<void> {
  const ending = run.ending!;
  if (run.routingTouched && run.championVersion !== null) {
    await control.restoreChampion({
      model: run.input.model,
      runId: run.input.runId,
      version: run.championVersion,
      actor: 'ctloop',
      reason: `run ended ${ending.outcome} during canary`,
      kind: 'routing_restored',
    });
    run.routingTouched = false;
  }
  run.stage = 'done';
  upsertSearchAttributes([
    { key: ctStageKey, value: 'done' },
    { key: ctOutcomeKey, value: ending.outcome },
  ]);
  await control.finishRun({
    runId: run.input.runId,
    outcome: ending.outcome,
    reason: ending.reason,
    candidateVersion: run.candidateVersion,
  });
  log.info('run finished', {
    runId: run.input.runId,
    outcome: ending.outcome,
    attempt: workflowInfo().attempt,
  });
}

function applySignalDecision(run: RunTracker, decision: 'approve' | 'reject', d: ApprovalDecisionInput) {
  const refusal = run.decisionRefusal(d);
  // Signals cannot answer the sender: a refusal is logged (visible in the UI's history) and, once the
  // approval stage is open, judged and recorded in the audit trail by the stage itself.
  if (run.approvalMode === 'levels') {
    if (refusal) log.warn('decision signal refused', { decision, refusal });
    else run.signalInbox.push({ ...d, decision });
    return;
  }
  if (refusal) {
    log.warn('decision signal refused', { decision, refusal });
    return;
  }
  run.decide(decision, d);
}

function describeFailure(err: unknown): string {
  let e: unknown = err;
  const parts: string[] = [];
  while (e instanceof Error) {
    parts.push(e.message);
    e = (e as Error & { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(err);
}
