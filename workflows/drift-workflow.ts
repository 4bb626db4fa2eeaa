import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const control = proxyActivities<Activities>({
  // Large batches take a while to read and sort; the statistics themselves are fast.
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 5 },
});

/**
 * One drift report computed by ctloop (`ct-drift/<model>/<reportId>`): the
 * comparison runs in an activity, not in the HTTP request, so a large batch
 * neither times out the caller nor is lost if a worker dies.
 */
export async function driftCheckWorkflow(input: {
  model: string;
  reportId: string;
}): Promise<{ drifted: boolean; runId: string | null }> {
  return control.computeDriftReport(input);
}
