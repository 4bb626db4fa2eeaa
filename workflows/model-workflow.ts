import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  ctModelKey,
  ctTriggerKey,
  type ModelState,
  type ModelWorkflowInput,
  modelStateQuery,
  type PendingRun,
  type RunOutcomeSummary,
  runWorkflowId,
  TRIGGER_REASONS,
  type TriggerAccepted,
  type TriggerCause,
  triggerUpdate,
} from './messages';
import { runWorkflow } from './run-workflow';

const control = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

/** Continue-as-new well before the history gets heavy; a run adds only a handful of events here. */
const MAX_HISTORY_EVENTS = 2_000;
const MAX_RUNS_PER_EXECUTION = 100;

/**
 * The per-model entity: at most one CT run at a time. Triggers that arrive
 * while a run is in progress are coalesced into at most one follow-up run,
 * which carries every cause.
 */
class ModelEntity {
  current: PendingRun | null = null;
  pending: PendingRun | null;
  completedRuns: number;
  lastOutcome: RunOutcomeSummary | null;

  constructor(readonly input: ModelWorkflowInput) {
    this.pending = input.carried?.pending ?? null;
    this.completedRuns = input.carried?.completedRuns ?? 0;
    this.lastOutcome = input.carried?.lastOutcome ?? null;
  }

  accept(cause: TriggerCause): TriggerAccepted {
    if (this.current === null && this.pending === null) {
      this.current = { runId: uuid4(), causes: [cause] };
      return { fate: 'started', runId: this.current.runId };
    }
    if (this.pending === null) {
      this.pending = { runId: uuid4(), causes: [cause] };
      return { fate: 'queued', runId: this.pending.runId };
    }
    this.pending = { ...this.pending, causes: [...this.pending.causes, cause] };
    return { fate: 'coalesced', runId: this.pending.runId };
  }

  state(): ModelState {
    return {
      model: this.input.model,
      current: this.current,
      pending: this.pending,
      completedRuns: this.completedRuns,
      lastOutcome: this.lastOutcome,
    };
  }
}

export async function modelWorkflow(input: ModelWorkflowInput): Promise<void> {
  const entity = new ModelEntity(input);

  setHandler(triggerUpdate, (cause) => entity.accept(cause), {
    validator: (cause) => {
      if (!cause || !TRIGGER_REASONS.includes(cause.reason)) {
        throw ApplicationFailure.nonRetryable(
          `reason must be one of ${TRIGGER_REASONS.join(', ')}`,
          'InvalidTrigger',
        );
      }
      if (typeof cause.triggerId !== 'string' || cause.triggerId === '') {
        throw ApplicationFailure.nonRetryable('triggerId is required', 'InvalidTrigger');
      }
    },
  });
  setHandler(modelStateQuery, () => entity.state());

  for (;;) {
    await condition(() => entity.current !== null || entity.pending !== null);
    if (entity.current === null) {
      entity.current = entity.pending;
      entity.pending = null;
    }
    const run = entity.current!;
    entity.lastOutcome = await executeRun(input, run);
    entity.completedRuns += 1;
    entity.current = null;

    const info = workflowInfo();
    if (
      info.continueAsNewSuggested ||
      info.historyLength > MAX_HISTORY_EVENTS ||
      entity.completedRuns % (input.maxRunsPerExecution ?? MAX_RUNS_PER_EXECUTION) === 0
    ) {
      // Let in-flight trigger updates finish so none is lost across the boundary.
      await condition(allHandlersFinished);
      await continueAsNew<typeof modelWorkflow>({
        ...input,
        carried: {
          pending: entity.pending,
          completedRuns: entity.completedRuns,
          lastOutcome: entity.lastOutcome,
        },
      });
    }
  }
}

async function executeRun(input: ModelWorkflowInput, run: PendingRun): Promise<RunOutcomeSummary> {
  try {
    const result = await executeChild(runWorkflow, {
      workflowId: runWorkflowId(input.model, run.runId),
      args: [
        {
          model: input.model,
          runId: run.runId,
          causes: run.causes,
          trainTaskQueue: input.trainTaskQueue,
          gpuTrainTaskQueue: input.gpuTrainTaskQueue,
        },
      ],
      typedSearchAttributes: [
        { key: ctModelKey, value: input.model },
        { key: ctTriggerKey, value: run.causes[0]?.reason ?? 'manual' },
      ],
      // Cancelling the model's workflow cancels its run, which cleans up and records `cancelled`.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    });
    return { runId: run.runId, outcome: result.outcome, reason: result.reason };
  } catch (err) {
    // The run records its own outcome; this covers a run terminated from outside (or a bug in it),
    // so that the registry never shows a run without an outcome.
    const outcome = isCancellation(err) ? 'cancelled' : 'failed';
    const reason = `run workflow did not complete: ${(err as Error).message ?? String(err)}`;
    log.warn('run did not complete', { runId: run.runId, error: reason });
    await control.finishRun({ runId: run.runId, outcome, reason, candidateVersion: null });
    return { runId: run.runId, outcome, reason };
  }
}
