import { heavy } from './activity-profiles';

/**
 * One drift report computed by ctloop (`ct-drift/<model>/<reportId>`): the
 * comparison runs in an activity, not in the HTTP request, so a large batch
 * neither times out the caller nor is lost if a worker dies.
 */
export async function driftCheckWorkflow(input: {
  model: string;
  reportId: string;
}): Promise<{ drifted: boolean; runId: string | null }> {
  return heavy.computeDriftReport(input);
}
