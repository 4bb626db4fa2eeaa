import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { describeDatabaseError, isDatabaseUnavailable } from '../db/errors';
import { InvalidPolicyError } from '../domain/policy-bounds';

/** The one error every handler throws: status, a stable code, a message for people, details for programs. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string, details: Record<string, unknown> = {}) =>
  new ApiError(404, 'not_found', `${what} not found`, details);

/** The registry database cannot be reached: the caller may retry; the message never carries SQL. */
export const databaseUnavailable = (err: unknown) =>
  new ApiError(503, 'database_unavailable', 'the registry database is unavailable; retry shortly', {
    reason: describeDatabaseError(err),
  });

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, details } };
}

/** A known path asked with a method it does not have: 405, naming the allowed methods (body and Allow header). */
export function methodNotAllowed(c: Context, allowed: readonly string[]) {
  c.header('Allow', allowed.join(', '));
  return c.json(
    errorBody('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}`, { allowed }),
    405,
  );
}

/** Used as the validation hook of every router: one shape for every validation error. */
export function validationHook(
  result: { success: true } | { success: false; error: ZodError; target?: string },
  c: Context,
) {
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const where = 'target' in result && result.target ? ` (${result.target})` : '';
    const message = `invalid request${where}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`;
    return c.json(errorBody('invalid_request', message, { issues }), 400);
  }
}

export function createErrorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.details), err.status);
    if (err instanceof InvalidPolicyError) {
      // A stored policy written past the API: the request is fine, the model's state is not.
      return c.json(errorBody('invalid_policy', err.message, { issues: err.issues }), 409);
    }
    if (err instanceof HTTPException) {
      // Hono's own 4xx (malformed JSON, missing content type): same JSON shape as ours.
      const status = err.status as ContentfulStatusCode;
      return c.json(errorBody(status === 400 ? 'invalid_request' : 'http_error', err.message), status);
    }
    if (isDatabaseUnavailable(err)) {
      log.warn({ path: c.req.path, reason: describeDatabaseError(err) }, 'database unavailable');
      const mapped = databaseUnavailable(err);
      c.header('retry-after', '1');
      return c.json(errorBody(mapped.code, mapped.message, mapped.details), mapped.status);
    }
    log.error({ err, path: c.req.path }, 'unhandled error');
    return c.json(errorBody('internal', 'internal error; see the server log'), 500);
  };
}
