import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  type ChildWorkflowHandle,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { FollowUpCauses } from '../domain/follow-up-causes';
import {
  type Cooldown,
  cooldownAfterRun,
  DedupIndex,
  decideTrigger,
  followUpStartsAt,
  type GovernanceState,
  runsInLastDay,
  type TriggerDecision,
} from '../domain/trigger-governance';
import { TriggerLedger } from '../domain/trigger-ledger';
import { boundedTriggerPolicy, type TriggerPolicy } from '../domain/trigger-policy-bounded';
import {
  ctModelKey,
  ctTriggerKey,
  type FreezeRequest,
  type FreezeState,
  freezeUpdate,
  type GovernanceCarry,
  type ModelState,
  type ModelWorkflowCarry,
  type ModelWorkflowInput,
  modelFreezeSignal,
  modelStateQuery,
  type PendingRun,
  type RunOutcomeSummary,
  runStageSignal,
  runWorkflowId,
  type Stage,
  TRIGGER_REASONS,
  type TriggerAccepted,
  type TriggerCause,
  type TriggerContext,
  triggerAnswersQuery,
  triggerBatchUpdate,
  triggerUpdate,
  watchTaskQueue,
} from './messages';
import { runWorkflow } from './run-workflow';
import { WorkflowClock } from './workflow-clock';

const control = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });
/**
 * Waits as long as a run takes (days, with approvals); the heartbeat notices a lost worker.
 * On the watch queue beside this workflow's (`watchTaskQueue`), so waiting holds no control slot.
 */
const watch = () =>
  proxyActivities<Activities>({
    taskQueue: watchTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '365 days',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  });

/**
 * When the execution continues as new. Each continue-as-new holds up the
 * triggers that arrive meanwhile (up to ~100 ms more than usual under a storm,
 * and more the more it hands over: hence the lean carry, `carry()`), so it
 * comes as seldom as is safe: after 1,500 updates (Temporal refuses more than 2,000 per
 * execution), 10,000 events or 8 MiB of history (Temporal's hard limits are
 * 51,200 events and 50 MB). A run adds a handful of events here, an update
 * (one trigger or a batch) two to five. The server's own suggestion is
 * followed, except one only for the event count (it comes at about 4,000
 * events, far from the limit): the replay of 10,000 events on a cache miss is
 * a fraction of a second.
 */
const MAX_HISTORY_EVENTS = 10_000;
const MAX_UPDATES_PER_EXECUTION = 1_500;
const MAX_HISTORY_BYTES = 8 * 1024 * 1024;
const MAX_RUNS_PER_EXECUTION = 100;

const NOT_FROZEN: FreezeState = { frozen: false, reason: null, by: null, at: null };

/**
 * The per-model entity: at most one CT run at a time, and the one arbiter of
 * every trigger's fate (domain/trigger-governance.ts decides; this applies).
 * Triggers that arrive while a run is in progress go into at most one
 * follow-up run, which carries every cause and waits for the cooldown.
 */
class ModelEntity {
  current: PendingRun | null = null;
  currentStage: Stage | null = null;
  /** Where signals for the current run go: its child handle, or (a run carried over) its external handle. */
  child: Pick<ChildWorkflowHandle<typeof runWorkflow>, 'signal'> | null = null;
  /** The current run was started by an earlier execution, which continued as new while it ran. */
  carriedRun: boolean;
  /** The follow-up run, if one is open: its causes bounded (domain/follow-up-causes.ts). */
  private followUp: { readonly runId: string; readonly causes: FollowUpCauses<TriggerCause> } | null;
  completedRuns: number;
  lastOutcome: RunOutcomeSummary | null;
  policy: TriggerPolicy | null;
  freeze: FreezeState;
  cooldown: Cooldown | null;
  runStarts: number[];
  readonly dedup: DedupIndex;
  /** What each recent trigger was answered: a trigger delivered again gets the same answer. */
  readonly answered: TriggerLedger<TriggerAccepted>;
  /** Bumped by a freeze or unfreeze, which changes when the follow-up may start. */
  freezeVersion = 0;
  /** Updates this execution has taken (Temporal caps them per execution). */
  updates = 0;
  /** The model's decisions are taken against it: a fired cooldown timer counts whatever the task's clock says. */
  readonly clock = new WorkflowClock();

  constructor(readonly input: ModelWorkflowInput) {
    const carried = input.carried;
    const pending = carried?.pending;
    this.followUp = pending
      ? { runId: pending.runId, causes: new FollowUpCauses(pending.causes, pending.omittedCauses) }
      : null;
    this.current = carried?.current?.run ?? null;
    this.currentStage = carried?.current?.stage ?? null;
    this.carriedRun = this.current !== null;
    this.completedRuns = carried?.completedRuns ?? 0;
    this.lastOutcome = carried?.lastOutcome ?? null;
    const g = carried?.governance;
    this.policy = g?.policy ? boundedTriggerPolicy(g.policy) : null;
    this.freeze = g?.freeze ?? input.freeze ?? NOT_FROZEN;
    this.cooldown = g?.cooldown ?? null;
    this.runStarts = [...(g?.runStarts ?? [])];
    this.dedup = new DedupIndex(g?.dedup);
    this.answered = new TriggerLedger(g?.answered);
  }

  /** The follow-up run as carried and shown: its causes are the live list, not a copy. */
  get pending(): PendingRun | null {
    if (this.followUp === null) return null;
    const { runId, causes } = this.followUp;
    return {
      runId,
      causes: causes.list as TriggerCause[],
      ...(causes.omitted ? { omittedCauses: causes.omitted } : {}),
    };
  }

  governance(): GovernanceState {
    return {
      policy: this.policy,
      frozen: this.freeze.frozen ? { reason: this.freeze.reason } : null,
      current: this.current && { runId: this.current.runId, stage: this.currentStage },
      pending: this.pending,
      cooldown: this.cooldown,
      runStarts: this.runStarts,
      dedup: this.dedup,
    };
  }

  accept(cause: TriggerCause, context: TriggerContext | undefined): TriggerAccepted {
    const now = this.clock.now();
    // Delivered again (its first delivery's fate was never stored): the same answer, no second run.
    const earlier = this.answered.answerFor(cause.triggerId);
    if (earlier !== undefined) {
      log.info('trigger delivered again; answering as before', { triggerId: cause.triggerId, ...earlier });
      return earlier;
    }
    // A trigger without context comes from a history recorded before governance: no limits apply.
    // The policy is clamped into its bounds: a cooldown of 1e300 s would make every later date
    // arithmetic here throw, failing each workflow task of this model for good.
    if (context) this.policy = boundedTriggerPolicy(context.policy);
    const dedupKey = context?.dedupKey ?? null;
    this.dedup.prune(now);
    const decision = decideTrigger(this.governance(), { reason: cause.reason, dedupKey }, now);
    const runId = this.apply(decision, cause, now);
    if (runId !== null) {
      this.dedup.remember({ dedupKey, triggerId: cause.triggerId, runId }, this.policy, now);
    }
    const answer: TriggerAccepted = {
      fate: decision.fate,
      runId: decision.duplicateOf?.runId ?? runId,
      ...(decision.reason === null ? {} : { reason: decision.reason }),
      ...(decision.duplicateOf?.triggerId ? { duplicateOf: decision.duplicateOf.triggerId } : {}),
    };
    if (decision.fate === 'suppressed')
      log.info('trigger suppressed', { triggerId: cause.triggerId, ...answer });
    this.answered.record(cause.triggerId, answer, now);
    return answer;
  }

  /** Carries out the decision on the runs; answers the run the trigger belongs to. */
  private apply(decision: TriggerDecision, cause: TriggerCause, now: number): string | null {
    switch (decision.action) {
      case 'start':
        this.startRun({ runId: uuid4(), causes: [cause] }, now);
        return this.current!.runId;
      case 'start-follow-up':
        this.followUp!.causes.add(cause);
        this.startFollowUp(now);
        return this.current!.runId;
      case 'open-follow-up':
        this.followUp = { runId: uuid4(), causes: new FollowUpCauses([cause]) };
        return this.followUp.runId;
      case 'join-follow-up':
        // Bounded (domain/follow-up-causes.ts): a storm of alerts must not outgrow Temporal's payload limit.
        this.followUp!.causes.add(cause);
        return this.followUp!.runId;
      case 'none':
        return null;
    }
  }

  startFollowUp(now: number): void {
    const run = this.pending!;
    this.followUp = null;
    this.startRun(run, now);
  }

  private startRun(run: PendingRun, now: number): void {
    this.current = run;
    this.currentStage = null;
    this.runStarts = [...runsInLastDay(this.runStarts, now), now];
  }

  runEnded(outcome: RunOutcomeSummary, now: number): void {
    this.lastOutcome = outcome;
    this.completedRuns += 1;
    this.current = null;
    this.currentStage = null;
    this.child = null;
    this.cooldown = cooldownAfterRun(this.policy, outcome, now);
  }

  setFreeze(request: FreezeRequest): void {
    this.freeze = { ...request, at: new Date(this.clock.now()).toISOString() };
    this.freezeVersion += 1;
  }

  /** Everything the next execution needs: the follow-up, the counts, governance, and a run in progress. */
  carryOver(): ModelWorkflowCarry {
    return {
      pending: this.pending,
      completedRuns: this.completedRuns,
      lastOutcome: this.lastOutcome,
      governance: this.carry(),
      ...(this.current === null ? {} : { current: { run: this.current, stage: this.currentStage } }),
    };
  }

  /**
   * Governance for the next execution. Kept small, since every trigger that
   * arrives during the hand-over waits for it: the dedup keys without their
   * triggers, and only the answers whose fates may still be unrecorded
   * (domain/trigger-governance.ts `DedupCarry`, domain/trigger-ledger.ts).
   */
  carry(): GovernanceCarry {
    const now = this.clock.now();
    return {
      policy: this.policy,
      freeze: this.freeze,
      cooldown: this.cooldown,
      runStarts: runsInLastDay(this.runStarts, now),
      dedup: this.dedup.toCarry(now),
      answered: this.answered.toCarry(now, answerKey),
    };
  }

  state(): ModelState {
    const now = this.clock.now();
    const cooldown = this.cooldown !== null && this.cooldown.until > now ? this.cooldown : null;
    return {
      model: this.input.model,
      current: this.current,
      currentStage: this.currentStage,
      pending: this.pending,
      completedRuns: this.completedRuns,
      lastOutcome: this.lastOutcome,
      freeze: this.freeze,
      cooldown: cooldown && { until: new Date(cooldown.until).toISOString(), after: cooldown.after },
      runsLast24h: runsInLastDay(this.runStarts, now).length,
      dailyRunBudget: this.policy?.dailyRunBudget ?? null,
      dedupKeys: this.dedup.liveCount(now),
    };
  }
}

export async function modelWorkflow(input: ModelWorkflowInput): Promise<void> {
  const entity = new ModelEntity(input);

  setHandler(
    triggerUpdate,
    (cause, context) => {
      entity.updates += 1;
      return entity.accept(cause, context);
    },
    { validator: validateTrigger },
  );
  setHandler(triggerAnswersQuery, (ids) =>
    (Array.isArray(ids) ? ids.slice(0, 1_000) : []).map((id) =>
      typeof id === 'string' ? (entity.answered.answerFor(id) ?? null) : null,
    ),
  );
  setHandler(
    triggerBatchUpdate,
    (items, recorded) => {
      entity.updates += 1;
      if (recorded) entity.answered.markRecorded(recorded);
      return items.map((i) => entity.accept(i.cause, i.context));
    },
    {
      validator: (items, recorded) => {
        if (!Array.isArray(items) || items.length === 0) {
          throw ApplicationFailure.nonRetryable(
            'a trigger batch needs at least one trigger',
            'InvalidTrigger',
          );
        }
        for (const item of items) validateTrigger(item?.cause, item?.context);
        if (
          recorded !== undefined &&
          recorded !== null &&
          !(Array.isArray(recorded) && recorded.every((id) => typeof id === 'string'))
        ) {
          throw ApplicationFailure.nonRetryable('recorded must be a list of trigger ids', 'InvalidTrigger');
        }
      },
    },
  );
  setHandler(
    freezeUpdate,
    async (request) => {
      entity.updates += 1;
      entity.setFreeze(request);
      const child = entity.child;
      if (child !== null) {
        // The run decides what a freeze means for it (no promotion); a run that just ended misses nothing.
        await child
          .signal(modelFreezeSignal, request)
          .catch((err) => log.warn('could not tell the run about the freeze', { error: String(err) }));
      }
      return entity.state();
    },
    {
      validator: (request) => {
        if (typeof request?.frozen !== 'boolean' || typeof request.by !== 'string' || request.by === '') {
          throw ApplicationFailure.nonRetryable('a freeze needs `frozen` and `by`', 'InvalidFreeze');
        }
      },
    },
  );
  setHandler(runStageSignal, ({ runId, stage }) => {
    if (entity.current?.runId === runId) entity.currentStage = stage;
  });
  setHandler(modelStateQuery, () => entity.state());

  for (;;) {
    await condition(() => entity.current !== null || entity.pending !== null || historyIsHeavy(entity));
    if (entity.current === null) {
      // No run in progress (it cannot be carried over), so a history grown by a flood of triggers
      // (a frozen model, a long cooldown) is cut here.
      if (historyIsHeavy(entity)) {
        await continueAsNewWith(input, entity);
        continue;
      }
      // Only the follow-up is there. Kept free of extra awaits when it may start at once: the
      // order of commands in a workflow task must stay what recorded histories have.
      const now = entity.clock.now();
      const startsAt = followUpStartsAt(entity.governance(), now);
      if (startsAt === null || startsAt > now) {
        await waitForFollowUp(entity, startsAt);
        continue;
      }
      entity.startFollowUp(now);
    }
    const run = entity.current!;
    const outcome = await runToEnd(input, entity, run);
    if (outcome === null) {
      // The history grew heavy during the run (a storm of triggers): go on in a new execution,
      // which waits for the same run.
      await continueAsNewDuringRun(input, entity);
      continue;
    }
    entity.runEnded(outcome, entity.clock.now());

    if (
      historyIsHeavy(entity) ||
      entity.completedRuns % (input.maxRunsPerExecution ?? MAX_RUNS_PER_EXECUTION) === 0
    ) {
      await continueAsNewWith(input, entity);
    }
  }
}

/** Answers alike in everything are carried once (the ledger's `keyOf`). */
function answerKey(a: TriggerAccepted): string {
  return `${a.fate} ${a.runId} ${a.duplicateOf ?? ''} ${a.reason === undefined ? '-' : `+${a.reason}`}`;
}

function historyIsHeavy(entity: ModelEntity): boolean {
  const { input } = entity;
  const info = workflowInfo();
  const reasons = info.suggestedContinueAsNewReasons ?? [];
  const suggested =
    info.continueAsNewSuggested &&
    !(reasons.length > 0 && reasons.every((reason) => reason === 'TOO_MANY_HISTORY_EVENTS'));
  return (
    suggested ||
    info.historyLength > (input.maxHistoryEvents ?? MAX_HISTORY_EVENTS) ||
    info.historySize > MAX_HISTORY_BYTES ||
    entity.updates >= (input.maxUpdatesPerExecution ?? MAX_UPDATES_PER_EXECUTION)
  );
}

/** Continues as new between runs; returns only if a trigger started a run while handlers finished. */
async function continueAsNewWith(input: ModelWorkflowInput, entity: ModelEntity): Promise<void> {
  // Let in-flight updates finish so none is lost across the boundary.
  await condition(allHandlersFinished);
  if (entity.current !== null) return;
  await continueAsNew<typeof modelWorkflow>({ ...input, carried: entity.carryOver() });
}

/**
 * Continues as new while a run is in progress, carrying it. Temporal caps the
 * updates one execution may take (2,000) and the size of its history, and a
 * run can wait days for a person while monitors keep alerting; so the model's
 * workflow cannot wait for the end of a run to cut its history. The run
 * workflow was started to outlive this execution (ParentClosePolicy.ABANDON)
 * and the next execution waits for it by its workflow id.
 */
async function continueAsNewDuringRun(input: ModelWorkflowInput, entity: ModelEntity): Promise<never> {
  // Let in-flight updates finish so none is lost across the boundary.
  await condition(allHandlersFinished);
  return continueAsNew<typeof modelWorkflow>({ ...input, carried: entity.carryOver() });
}

/**
 * The run's outcome; or null when the history grew heavy first (the run
 * outlives this execution and the next one waits for it).
 */
async function runToEnd(
  input: ModelWorkflowInput,
  entity: ModelEntity,
  run: PendingRun,
): Promise<RunOutcomeSummary | null> {
  let ending: Promise<RunOutcomeSummary>;
  if (entity.carriedRun) {
    entity.carriedRun = false;
    ending = awaitCarriedRun(input, entity, run);
  } else {
    ending = executeRun(input, entity, run);
  }
  let ended = false;
  return Promise.race([
    ending.finally(() => {
      ended = true;
    }),
    condition(() => ended || historyIsHeavy(entity)).then(() => null),
  ]);
}

/**
 * Waits for a run an earlier execution started, through the awaitRunEnd
 * activity (heartbeated, retried on another worker if this one is lost).
 * Cancelling the model's workflow cancels the run, as for a child.
 */
async function awaitCarriedRun(
  input: ModelWorkflowInput,
  entity: ModelEntity,
  run: PendingRun,
): Promise<RunOutcomeSummary> {
  const workflowId = runWorkflowId(input.model, run.runId);
  const handle = getExternalWorkflowHandle(workflowId);
  entity.child = handle;
  try {
    const end = await watch().awaitRunEnd({ workflowId });
    if (end.ended === 'completed') {
      return { runId: run.runId, outcome: end.result.outcome, reason: end.result.reason };
    }
    return await recordUnfinishedRun(run, end.ended, `run workflow did not complete: ${end.message}`);
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => handle.cancel());
    throw err;
  }
}

/** A run that did not record its own outcome (terminated from outside, or a bug in it) gets one here. */
async function recordUnfinishedRun(
  run: PendingRun,
  outcome: 'cancelled' | 'failed',
  reason: string,
): Promise<RunOutcomeSummary> {
  log.warn('run did not complete', { runId: run.runId, error: reason });
  await control.finishRun({ runId: run.runId, outcome, reason, candidateVersion: null });
  return { runId: run.runId, outcome, reason };
}

/**
 * Waits while the follow-up may not start: until the cooldown ends (a durable
 * timer, so a worker restart loses nothing), or while the model is frozen
 * (`startsAt` null) until it is unfrozen; a manual trigger may start it sooner.
 */
async function waitForFollowUp(entity: ModelEntity, startsAt: number | null): Promise<void> {
  const seen = entity.freezeVersion;
  const woken = () => entity.current !== null || entity.freezeVersion !== seen || historyIsHeavy(entity);
  if (startsAt === null) await condition(woken);
  else await entity.clock.waitUntil(woken, startsAt);
}

async function executeRun(
  input: ModelWorkflowInput,
  entity: ModelEntity,
  run: PendingRun,
): Promise<RunOutcomeSummary> {
  try {
    const child = await startChild(runWorkflow, {
      workflowId: runWorkflowId(input.model, run.runId),
      args: [
        {
          model: input.model,
          runId: run.runId,
          causes: run.causes,
          ...(run.omittedCauses ? { omittedCauses: run.omittedCauses } : {}),
          trainTaskQueue: input.trainTaskQueue,
          gpuTrainTaskQueue: input.gpuTrainTaskQueue,
          maxHistoryEvents: input.runMaxHistoryEvents,
        },
      ],
      typedSearchAttributes: [
        { key: ctModelKey, value: input.model },
        { key: ctTriggerKey, value: run.causes[0]?.reason ?? 'manual' },
      ],
      // Cancelling the model's workflow cancels its run (the child's scope is cancelled), which
      // cleans up and records `cancelled`; continuing as new leaves it running (ABANDON).
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    entity.child = child;
    // A freeze that arrived while the run was being started has not been forwarded yet.
    if (entity.freeze.frozen) {
      const { frozen, reason, by } = entity.freeze;
      await child.signal(modelFreezeSignal, { frozen, reason, by });
    }
    const result = await child.result();
    return { runId: run.runId, outcome: result.outcome, reason: result.reason };
  } catch (err) {
    // The run records its own outcome; this covers a run terminated from outside (or a bug in it),
    // so that the registry never shows a run without an outcome.
    const outcome = isCancellation(err) ? 'cancelled' : 'failed';
    return recordUnfinishedRun(
      run,
      outcome,
      `run workflow did not complete: ${(err as Error).message ?? String(err)}`,
    );
  }
}

/** A trigger the model workflow will decide on; the API builds them, a person in the UI may not. */
function validateTrigger(cause: TriggerCause | undefined, context: TriggerContext | undefined): void {
  if (!cause || !TRIGGER_REASONS.includes(cause.reason)) {
    throw ApplicationFailure.nonRetryable(
      `reason must be one of ${TRIGGER_REASONS.join(', ')}`,
      'InvalidTrigger',
    );
  }
  if (typeof cause.triggerId !== 'string' || cause.triggerId === '') {
    throw ApplicationFailure.nonRetryable('triggerId is required', 'InvalidTrigger');
  }
  if (context !== undefined && (typeof context.policy !== 'object' || context.policy === null)) {
    throw ApplicationFailure.nonRetryable('a trigger context needs the triggers policy', 'InvalidTrigger');
  }
}
