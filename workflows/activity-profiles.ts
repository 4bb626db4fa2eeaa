import { proxyActivities } from '@temporalio/workflow';
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
