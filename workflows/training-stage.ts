import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CheckpointRef, TrainedCandidate, TrainHeartbeat } from '../activities/training';
import type { Policy } from '../domain/policy';
import type { RunWorkflowInput, TrainingState } from './messages';

/** Failure types from activities/training.ts (repeated here: workflows import only types from activities). */
const PREEMPTED = 'TrainerPreempted';
const INVALID_PARAMS = 'InvalidHyperParameters';

export type TrainingOutcome =
  | { readonly ok: true; readonly trained: TrainedCandidate }
  | { readonly ok: false; readonly reason: string };

export const initialTrainingState: TrainingState = {
  taskQueue: null,
  attempts: 0,
  preemptions: 0,
  crashes: 0,
  lostSteps: 0,
  lastCheckpoint: null,
  lastError: null,
};

/**
 * Trains with a separate budget per kind of failure. A lost worker (no
 * heartbeat within the timeout) and a preempted trainer are retried with
 * backoff from the newest checkpoint the failed attempt reported; a trainer
 * that crashes gets a small budget; invalid hyper-parameters are not retried.
 * Temporal's own retries are off for this activity so that the budgets are
 * counted here, in the run's history, where operators can see them.
 */
export async function trainWithBudgets(
  input: RunWorkflowInput,
  policy: Policy,
  dataUri: string,
  state: { training: TrainingState },
): Promise<TrainingOutcome> {
  const rules = policy.training;
  const taskQueue = rules.resources.gpu
    ? (input.gpuTrainTaskQueue ?? `${input.trainTaskQueue}-gpu`)
    : input.trainTaskQueue;
  const training = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: `${rules.heartbeatTimeoutSeconds} seconds`,
    retry: { maximumAttempts: 1 },
    // A cancelled run ends only once the trainer has stopped (SIGTERM, checkpoint, exit).
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  let checkpoints: readonly CheckpointRef[] = [];
  state.training = { ...state.training, taskQueue };

  for (;;) {
    state.training = { ...state.training, attempts: state.training.attempts + 1 };
    try {
      const trained = await training.trainCandidate({
        model: input.model,
        runId: input.runId,
        dataUri,
        schema: policy.schema,
        training: rules,
        checkpoints,
        attempt: state.training.attempts,
      });
      return { ok: true, trained };
    } catch (err) {
      if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      const cause = err.cause;
      const beat = lastHeartbeat(cause);
      if (beat && beat.checkpoints.length > 0) checkpoints = beat.checkpoints;
      const newest = checkpoints.at(-1) ?? null;
      const lost = beat ? Math.max(0, beat.step - (newest?.step ?? 0)) : 0;
      const message = cause?.message ?? err.message;
      state.training = {
        ...state.training,
        lostSteps: state.training.lostSteps + lost,
        lastCheckpoint: newest ? { uri: newest.uri, step: newest.step } : null,
        lastError: message,
      };

      if (cause instanceof ApplicationFailure && cause.type === INVALID_PARAMS) {
        return { ok: false, reason: `invalid hyper-parameters: ${message}` };
      }
      const workerLost = cause instanceof TimeoutFailure && cause.timeoutType === 'HEARTBEAT';
      if (workerLost || (cause instanceof ApplicationFailure && cause.type === PREEMPTED)) {
        const preemptions = state.training.preemptions + 1;
        state.training = { ...state.training, preemptions };
        if (preemptions > rules.retries.preemptions) {
          return {
            ok: false,
            reason: `training was preempted ${preemptions} times (budget ${rules.retries.preemptions})`,
          };
        }
        const backoff = Math.min(
          rules.retries.maxBackoffSeconds,
          rules.retries.backoffSeconds * 2 ** (preemptions - 1),
        );
        if (backoff > 0) await sleep(backoff * 1000);
        continue;
      }
      const crashes = state.training.crashes + 1;
      state.training = { ...state.training, crashes };
      if (crashes > rules.retries.crashes) {
        const tail = beat?.stderrTail?.trim();
        return {
          ok: false,
          reason: `trainer failed ${crashes} times (budget ${rules.retries.crashes}): ${message}${tail ? `\n--- stderr (tail) ---\n${tail}` : ''}`,
        };
      }
    }
  }
}

type FailureDetails = TrainHeartbeat & { stderrTail?: string };

/** The last heartbeat of a lost worker, or the details a failing attempt attached. */
function lastHeartbeat(cause: unknown): FailureDetails | null {
  const candidate =
    cause instanceof TimeoutFailure
      ? cause.lastHeartbeatDetails
      : cause instanceof ApplicationFailure
        ? cause.details?.[0]
        : undefined;
  if (
    !candidate ||
    typeof candidate !== 'object' ||
    !Array.isArray((candidate as FailureDetails).checkpoints)
  ) {
    return null;
  }
  return candidate as FailureDetails;
}
