import {
  allHandlersFinished,
  condition,
  log,
  makeContinueAsNewFunc,
  workflowInfo,
} from '@temporalio/workflow';
import { bookkeeping } from './activity-profiles';
import type { ApprovalPosition, BakePosition, RunCarry, RunResume, RunWorkflowInput } from './messages';
import type { RunTracker } from './run-tracker';
import type { runWorkflow } from './run-workflow';

/** Well under the 10,000-event budget: a wait's safe point comes before the next batch of events lands. */
export const MAX_RUN_HISTORY_EVENTS = 8_000;

/** The server suggests it, or the history passed the run's own threshold. */
export function historyIsHeavy(input: RunWorkflowInput): boolean {
  const info = workflowInfo();
  return (
    info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? MAX_RUN_HISTORY_EVENTS)
  );
}

/** Everything the run's handlers, query and later stages read, as plain data. */
export function carryOf(run: RunTracker): RunCarry {
  return {
    training: run.training,
    candidateVersion: run.candidateVersion,
    championVersion: run.championVersion,
    approval: run.approval,
    context: run.context,
    canaryWeight: run.canaryWeight,
    paused: run.paused,
    promoteNow: run.promoteNow,
    controls: run.controls,
    baseline: run.baseline,
    freeze: run.freeze,
    canarySteps: run.canarySteps,
    bakeEndsAt: run.bakeEndsAt,
    routingTouched: run.routingTouched,
    refused: run.refused,
    deferredAudits: run.deferredAudits,
  };
}

/** Puts a carried state back into a fresh tracker, before the handlers answer anything. */
export function restoreCarry(run: RunTracker, resume: RunResume): void {
  Object.assign(run, resume.state);
  run.stage = resume.wait;
}

/** Records the audits deferred by a handover; each leaves the list once recorded (keys make a retry harmless). */
export async function recordDeferredAudits(run: RunTracker): Promise<void> {
  while (run.deferredAudits.length > 0) {
    const audit = run.deferredAudits[0]!;
    await bookkeeping.recordAudit(audit);
    // By identity: a second loop (a handover that did not happen) may have recorded it meanwhile.
    const at = run.deferredAudits.indexOf(audit);
    if (at >= 0) run.deferredAudits.splice(at, 1);
  }
}

export type WaitPosition =
  | { wait: 'approve'; approval: ApprovalPosition }
  | { wait: 'bake'; bake: BakePosition };

/**
 * Continues the run as new at a wait's safe point, resuming the same wait.
 * Handlers in flight answer first; if one of them changed the wait's course
 * meanwhile (a vote to record, a rollback), this returns and the wait goes
 * on in this execution, to come back here at its next safe point.
 */
export async function continueRunAsNew(
  run: RunTracker,
  policy: unknown,
  position: WaitPosition,
): Promise<void> {
  const changed = () => run.unrecorded.length > 0 || run.isEnding;
  run.continuing = true;
  await condition(() => allHandlersFinished() || changed());
  if (changed()) {
    run.continuing = false;
    await recordDeferredAudits(run);
    return;
  }
  const executions = (run.input.resume?.executions ?? 0) + 1;
  log.info('run continues as new', {
    runId: run.input.runId,
    wait: position.wait,
    historyLength: workflowInfo().historyLength,
    executions,
  });
  const { resume: _previous, ...input } = run.input;
  // The model, trigger and stage attributes go along, so searches keep finding the run.
  const next = makeContinueAsNewFunc<typeof runWorkflow>({
    typedSearchAttributes: workflowInfo().typedSearchAttributes,
  });
  await next({ ...input, resume: { ...position, executions, policy, state: carryOf(run) } });
}
