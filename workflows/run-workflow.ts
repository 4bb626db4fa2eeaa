import {
  allHandlersFinished,
  CancellationScope,
  ContinueAsNew,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { TrainedCandidate } from '../activities/training';
import { isPartitionedSource } from '../domain/data-window';
import type { Policy } from '../domain/policy';
import { bookkeeping, control, heavy } from './activity-profiles';
import { approvalStage } from './approval-stage';
import {
  type BakePosition,
  ctOutcomeKey,
  ctStageKey,
  type RunResult,
  type RunWorkflowInput,
  runStageSignal,
  runWorkflowId,
  type Stage,
} from './messages';
import { type PromotionSaga, promote } from './promotion-saga';
import { bake, canary } from './rollout-stage';
import { installRunHandlers } from './run-handlers';
import { continueRunAsNew, historyIsHeavy, recordDeferredAudits, restoreCarry } from './run-resume';
import { type Ending, RunTracker } from './run-tracker';
import { trainWithBudgets } from './training-stage';

// Two timeout profiles: quick control calls, and long training that heartbeats.
/**
 * One CT run, read top to bottom as the stages of the loop: validate → train
 * → evaluate → approve → canary → bake. It always ends in exactly one
 * outcome, recorded in the registry and in the CtOutcome search attribute.
 */
export async function runWorkflow(input: RunWorkflowInput): Promise<RunResult> {
  const run = new RunTracker(input);
  if (input.resume) restoreCarry(run, input.resume);

  installRunHandlers(run);
  // Audits deferred by the previous execution's handover, recorded alongside the wait.
  const deferred = recordDeferredAudits(run);

  try {
    run.ending = input.resume ? await resumeWait(run) : await runStages(run);
  } catch (err) {
    // Not an ending: the same run goes on in its next execution.
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      run.ending = { outcome: 'cancelled', reason: 'run was cancelled' };
      await CancellationScope.nonCancellable(async () => {
        await deferred;
        await finish(run);
        await condition(allHandlersFinished);
      });
      throw err;
    }
    run.ending = { outcome: 'failed', reason: describeFailure(err) };
    log.error('run failed', { runId: input.runId, error: run.ending.reason });
  }
  await deferred;
  await finish(run);
  // Handlers still waiting (a vote being recorded, a control being audited) answer before the run ends.
  await condition(allHandlersFinished);
  return {
    runId: input.runId,
    outcome: run.ending.outcome,
    reason: run.ending.reason,
    candidateVersion: run.candidateVersion,
  };
}

async function runStages(run: RunTracker): Promise<Ending> {
  const { model, runId } = run.input;
  const began = await bookkeeping.beginRun({
    model,
    runId,
    workflowId: runWorkflowId(model, runId),
    causes: run.input.causes,
  });
  // Parsed by the activity (workflow code carries no schema library: each cached workflow evaluates
  // its modules anew). The run follows this snapshot even if the model's policy is edited meanwhile.
  let policy = began.policy;
  let { dataUri } = began;
  run.championVersion = began.championVersion;

  await enterStage(run, 'validate');
  if (isPartitionedSource(dataUri) || policy.data.holdout === 'random') {
    // A pattern of dated partitions: this run's window, picked now and materialised once, is its data
    // (one file with a random hold-out is materialised too, its rows in a seeded random order).
    const window = [...run.input.causes].reverse().find((c) => c.details.window !== undefined)
      ?.details.window;
    const resolved = await heavy.resolveDataWindow({
      model,
      runId,
      source: dataUri,
      asOf: new Date().toISOString(),
      data: policy.data,
      window,
    });
    await bookkeeping.saveRunReport({
      runId,
      name: 'data',
      report: resolved.ok ? resolved.report : { source: dataUri, error: resolved.reason },
    });
    if (!resolved.ok) return { outcome: 'rejected_data', reason: resolved.reason };
    dataUri = resolved.dataUri;
    if (resolved.holdoutFraction !== null) {
      // The newest days are the hold-out set: they are the last rows of the window.
      policy = { ...policy, training: { ...policy.training, holdoutFraction: resolved.holdoutFraction } };
    }
  }
  const validation = await heavy.validateData({
    dataUri,
    schema: policy.schema,
    rules: policy.validation,
  });
  await bookkeeping.saveRunReport({ runId, name: 'validation', report: validation });
  if (!validation.ok) return { outcome: 'rejected_data', reason: validation.summary };

  await enterStage(run, 'train');
  // A version someone else's training job registered in MLflow is evaluated as it is, not trained here.
  const mlflowVersion = [...run.input.causes].reverse().find((c) => c.details.mlflowVersion !== undefined)
    ?.details.mlflowVersion;
  let trained: TrainedCandidate;
  if (mlflowVersion !== undefined) {
    const imported = await control.importFromMlflow({ model, runId, mlflowVersion: String(mlflowVersion) });
    await bookkeeping.saveRunReport({ runId, name: 'import', report: imported });
    if (!imported.ok) return { outcome: 'rejected_data', reason: imported.reason };
    trained = imported.trained;
  } else {
    const training = await trainWithBudgets(run.input, policy, dataUri, run);
    await bookkeeping.saveRunReport({
      runId,
      name: 'trainingAttempts',
      report: { ...run.training, result: training.ok ? training.trained : null },
    });
    if (!training.ok) return { outcome: 'failed', reason: training.reason };
    trained = training.trained;
  }
  const { version } = await control.registerCandidate({
    model,
    runId,
    artifactUri: trained.artifactUri,
    metrics: { train: trained.metrics, steps: trained.steps },
    dataUri,
    dataHash: validation.dataHash,
    ...(trained.referenceSketchUri ? { referenceSketchUri: trained.referenceSketchUri } : {}),
    params:
      mlflowVersion === undefined
        ? { trainer: policy.training.trainer, ...policy.training.params }
        : { source: 'mlflow', mlflowVersion: String(mlflowVersion) },
    ...(mlflowVersion === undefined ? {} : { mlflowVersion: String(mlflowVersion) }),
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
  await bookkeeping.saveRunReport({ runId, name: 'evaluation', report: evaluation });
  if (evaluation.verdict.decision !== 'pass') {
    return { outcome: 'rejected_eval', reason: evaluation.verdict.reasons.join('; ') };
  }

  if (policy.serving.backend === 'v2') {
    // Served by an external model server: the candidate must load there and answer as ctloop does
    // before an approver is asked or any traffic reaches it.
    const infra = await heavy.validateOnServer({
      model,
      version,
      artifactUri: trained.artifactUri,
      dataUri,
      schema: policy.schema,
      holdoutFraction: policy.training.holdoutFraction,
      requests: policy.serving.smokeRequests,
    });
    await bookkeeping.saveRunReport({ runId, name: 'infraValidation', report: infra });
    if (!infra.ok) return { outcome: 'failed', reason: `infra-validation: ${infra.reason}` };
  }

  if (policy.approval.required) {
    const refusal = await approvalStage(run, policy, () => enterStage(run, 'approve'), {
      heavy: () => historyIsHeavy(run.input),
      save: (approval) => continueRunAsNew(run, began.policy, { wait: 'approve', approval }),
    });
    if (refusal) return refusal;
  }
  return rollOut(run, began.policy, policy);
}

/**
 * The same wait again, in a new execution of the run: nothing before it is
 * redone (the run is not validated, trained or evaluated again).
 */
async function resumeWait(run: RunTracker): Promise<Ending> {
  const resume = run.input.resume!;
  // The carried snapshot is input like any other (a run can be started by hand with any): read it
  // as a snapshot is read, clamped into the bounds; one that cannot be read fails the run.
  const policy = await control.readCarriedPolicy({ model: run.input.model, policy: resume.policy });
  upsertSearchAttributes([{ key: ctStageKey, value: resume.wait }]);
  if (resume.wait === 'approve') {
    const refusal = await approvalStage(run, policy, async () => {}, {
      heavy: () => historyIsHeavy(run.input),
      save: (approval) => continueRunAsNew(run, resume.policy, { wait: 'approve', approval }),
      resume: resume.approval,
    });
    if (refusal) return refusal;
    return rollOut(run, resume.policy, policy);
  }
  const at = resume.bake!;
  return bakeWithCheckpoints(run, resume.policy, policy, at.version, at.previousChampion, at.saga, at);
}

/** Canary (when there is a champion to compare with), promotion, bake. */
async function rollOut(run: RunTracker, rawPolicy: unknown, policy: Policy): Promise<Ending> {
  const version = run.candidateVersion!;
  const previousChampion = run.championVersion;
  if (previousChampion !== null) {
    const back = (actor: string, reason: string) => restore(run, previousChampion, actor, reason);
    await enterStage(run, 'canary');
    const held = await holdWhileFrozen(run, 'the canary', back);
    if (held) return held;
    const canaryEnding = await canary(run, policy, previousChampion, version, back);
    if (canaryEnding) return canaryEnding;
  }
  const reason =
    previousChampion === null
      ? 'first model passed evaluation'
      : run.promoteNow
        ? `promoted now by ${run.promoteNow.by} at ${run.canarySteps.at(-1)?.weight ?? 0} %: ${run.promoteNow.reason}`
        : `canary passed ${policy.canary.steps.join(' → ')} %`;
  await enterStage(run, 'promote');
  if (previousChampion !== null) {
    const held = await holdWhileFrozen(run, 'the promotion', (actor, why) =>
      restore(run, previousChampion, actor, why),
    );
    if (held) return held;
  }
  // The saga's few steps run to the end even if the run is cancelled meanwhile: the bake then undoes them.
  const saga = await CancellationScope.nonCancellable(() =>
    promote(run, policy.promotion, version, reason, run.promoteNow?.by ?? 'ctloop'),
  );
  if (previousChampion === null) return { outcome: 'promoted', reason: 'first champion of this model' };
  await enterStage(run, 'bake');
  return bakeWithCheckpoints(run, rawPolicy, policy, version, previousChampion, saga);
}

function bakeWithCheckpoints(
  run: RunTracker,
  rawPolicy: unknown,
  policy: Policy,
  version: number,
  previousChampion: number,
  saga: PromotionSaga,
  resume?: BakePosition,
): Promise<Ending> {
  return bake(run, policy, version, previousChampion, saga, {
    heavy: () => historyIsHeavy(run.input),
    save: (bakeAt) => continueRunAsNew(run, rawPolicy, { wait: 'bake', bake: bakeAt }),
    resume,
  });
}

/**
 * Waits (durably) while the model is frozen, recording that the run was held
 * and for how long. An operator's rollback or abort ends the hold (and the
 * run: the champion keeps all traffic); a cancel ends it too.
 */
async function holdWhileFrozen(
  run: RunTracker,
  what: string,
  restore: (actor: string, reason: string) => Promise<Ending>,
): Promise<Ending | null> {
  if (!run.freeze.frozen) return null;
  const { model, runId } = run.input;
  const since = Date.now();
  run.held = what;
  await bookkeeping.recordAudit({
    model,
    runId,
    kind: 'held_frozen',
    actor: 'ctloop',
    reason: `${what} waits: model frozen by ${run.freeze.by}: ${run.freeze.reason ?? 'no reason given'}`,
    details: { what },
    eventKey: `${runId}:held-frozen:${what}`,
  });
  try {
    await condition(() => !run.freeze.frozen || run.rollback !== null);
  } finally {
    run.held = null;
  }
  if (run.rollback) {
    return restore(run.rollback.by, `rollback while ${what} was held by a freeze: ${run.rollback.reason}`);
  }
  await bookkeeping.recordAudit({
    model,
    runId,
    kind: 'released_unfrozen',
    actor: run.freeze.by || 'ctloop',
    reason: `${what} goes on after ${Math.round((Date.now() - since) / 1000)} s frozen`,
    details: { what },
    eventKey: `${runId}:released-unfrozen:${what}`,
  });
  return null;
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
  // The model workflow holds triggers while its run is in canary, promote or bake.
  const parent = workflowInfo().parent;
  if (parent) {
    getExternalWorkflowHandle(parent.workflowId)
      .signal(runStageSignal, { runId: run.input.runId, stage })
      .catch((err) => log.warn('could not tell the model workflow the stage', { stage, error: String(err) }));
  }
  await bookkeeping.setRunStage({ runId: run.input.runId, stage });
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

function describeFailure(err: unknown): string {
  let e: unknown = err;
  const parts: string[] = [];
  while (e instanceof Error) {
    parts.push(e.message);
    e = (e as Error & { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(err);
}
