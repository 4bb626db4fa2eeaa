import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * Work that grows with the data (validating, evaluating, comparing a batch
 * for drift): it runs on a thread of its own on the worker and heartbeats
 * every few seconds (activities/heartbeats.ts), so a lost worker is noticed
 * within the heartbeat timeout, however long the work itself may take. The
 * start-to-close bound is only a backstop against a stuck thread: a million
 * rows take about a minute on one core. Few attempts, with backoff: a failure
 * that repeats on a large dataset is not worth an hour of CPU ten times over.
 */
export const heavy = proxyActivities<Activities>({
  heartbeatTimeout: '30 seconds',
  startToCloseTimeout: '2 hours',
  retry: {
    initialInterval: '10 seconds',
    backoffCoefficient: 3,
    maximumInterval: '5 minutes',
    maximumAttempts: 3,
  },
});

/** Retries for quick registry work: ten attempts over about three minutes, then the run fails with the reason. */
const quickRetry = {
  initialInterval: '1 second',
  maximumInterval: '30 seconds',
  maximumAttempts: 10,
} as const;

/**
 * Quick work on the control queue that reaches beyond the registry (model
 * storage, MLflow, the serving layer) or that an operator should see
 * scheduled in the Temporal UI while it retries.
 */
export const control = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: quickRetry });

/**
 * A run's bookkeeping in the registry (its row and stage, its reports, the
 * audit trail, the promotion record): a write or two each, idempotent. Local
 * activities: they run on the worker that runs the workflow, inside its
 * workflow task, so a step costs one database round trip instead of two
 * server round trips and a task hand-over. A lost worker's workflow task is
 * retried on another, which runs the write again; the same retries apply.
 */
export const bookkeeping = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Beyond this backoff the retry waits on a timer instead of inside the workflow task.
  localRetryThreshold: '10 seconds',
  retry: quickRetry,
});
