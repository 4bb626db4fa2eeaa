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
  const message = withGrpcCause(err);
  if (/already completed|not found|workflow execution already/i.test(message)) {
    return new ApiError(409, 'not_running', `${what}: the workflow is not running (${message})`);
  }
  return new ApiError(503, 'temporal_unavailable', `${what}: Temporal did not answer: ${message}`);
}

/**
 * The error's message and, for the client's wrapper of a failed call
 * (`ServiceError`, "Workflow Update failed"), what the server said: its gRPC
 * status and details, which is what an operator needs to tell an outage from a
 * refusal.
 */
function withGrpcCause(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const cause = (err as { cause?: { code?: unknown; details?: unknown } } | undefined)?.cause;
  if (typeof cause?.code !== 'number') return message;
  const details = typeof cause.details === 'string' && cause.details !== '' ? `: ${cause.details}` : '';
  return `${message} (gRPC status ${cause.code}${details})`;
}

/** Whether the workflow judged and audited this refusal itself (an update handler's, not its validator's). */
export function auditedByRun(err: unknown): boolean {
  if (!(err instanceof WorkflowUpdateFailedError)) return false;
  const details = (err.cause as { details?: unknown[] } | undefined)?.details;
  return (details?.[0] as { audited?: unknown } | undefined)?.audited === true;
}
