import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { describeDatabaseError, isDatabaseError, isDatabaseUnavailable } from '../db/errors';
import { ApiError, databaseUnavailable } from './errors';

/**
 * Maps what Temporal says about an update or signal to an API error: a
 * validator's refusal is the caller's conflict (409), a missing or finished
 * workflow too; anything else is Temporal being unreachable (503).
 */
export function temporalCallError(err: unknown, what: string): ApiError {
  // The registry is read and written around most Temporal calls; its failures are its own.
  if (isDatabaseUnavailable(err)) return databaseUnavailable(err);
  if (isDatabaseError(err)) {
    return new ApiError(500, 'internal', `${what}: database error: ${describeDatabaseError(err)}`);
  }
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause as { message?: string; type?: string } | undefined;
    return new ApiError(409, 'refused', `${what} refused: ${cause?.message ?? err.message}`, {
      type: cause?.type ?? null,
    });
  }
  if (err instanceof WorkflowNotFoundError) {
    return new ApiError(409, 'not_running', `${what}: the workflow is not running`);
  }
  const message = (err as Error)?.message ?? String(err);
  if (/already completed|not found|workflow execution already/i.test(message)) {
    return new ApiError(409, 'not_running', `${what}: the workflow is not running (${message})`);
  }
  return new ApiError(503, 'temporal_unavailable', `${what}: Temporal did not answer: ${message}`);
}

/** Whether the workflow judged and audited this refusal itself (an update handler's, not its validator's). */
export function auditedByRun(err: unknown): boolean {
  if (!(err instanceof WorkflowUpdateFailedError)) return false;
  const details = (err.cause as { details?: unknown[] } | undefined)?.details;
  return (details?.[0] as { audited?: unknown } | undefined)?.audited === true;
}
