import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errorBody } from './errors';

/** The largest request body the API reads: the largest valid one (a policy, 1,000 features) is far below. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** An Evidently drift report export may hold per-column histograms for thousands of columns. */
export const MAX_REPORT_BODY_BYTES = 64 * 1024 * 1024;

const limitOf = (path: string) => (path.endsWith('/drift-reports') ? MAX_REPORT_BODY_BYTES : MAX_BODY_BYTES);

const tooLarge = (maxBytes: number) => (c: Context) =>
  c.json(errorBody('too_large', `the request body is over ${maxBytes} bytes`, { maxBytes }), 413);

/** Count a body sent without a length (chunked) as it arrives, and stop at the limit. */
const streamedLimits = new Map(
  [MAX_BODY_BYTES, MAX_REPORT_BODY_BYTES].map((max) => [
    max,
    bodyLimit({ maxSize: max, onError: tooLarge(max) }),
  ]),
);

/**
 * Refuses a body over its limit (MAX_BODY_BYTES; MAX_REPORT_BODY_BYTES for a
 * drift report) with a 413 before anything reads it, so that a caller cannot
 * make the process hold and parse gigabytes. A body with a Content-Length is
 * judged by the header alone; a chunked one is counted while it is read.
 */
export const limitBodySize: MiddlewareHandler = async (c, next) => {
  if (!['POST', 'PUT', 'PATCH'].includes(c.req.method)) return next();
  const max = limitOf(c.req.path);
  const length = c.req.header('content-length');
  if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
    return Number(length) > max ? tooLarge(max)(c) : next();
  }
  return streamedLimits.get(max)!(c, next);
};

/**
 * Refuses a POST, PUT or PATCH that sends no body at all (no content type), as
 * the description says: every one of them requires a JSON body. Without this
 * the route's validator would check `{}` instead, and a call whose fields are
 * all optional (unfreeze) would be accepted without the body the spec requires.
 */
export const requireJsonBody: MiddlewareHandler = async (c, next) => {
  if (!['POST', 'PUT', 'PATCH'].includes(c.req.method) || c.req.header('content-type')) return next();
  return c.json(
    errorBody(
      'invalid_request',
      `${c.req.method} ${c.req.path} needs a JSON body (content-type: application/json)`,
      {
        issues: [{ path: '', message: 'missing request body' }],
      },
    ),
    400,
  );
};

/**
 * Refuses a JSON body holding a NUL character (`\u0000`) in any key or text,
 * with a 400 naming where: Postgres stores neither text nor jsonb with one,
 * so such a body would otherwise fail deep inside a handler. Bodies that are
 * not JSON, or not valid JSON, pass on to the route's own validation.
 */
export const rejectNulCharacters: MiddlewareHandler = async (c, next) => {
  if (!['POST', 'PUT', 'PATCH'].includes(c.req.method)) return next();
  if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return next();
  let body: unknown;
  try {
    // Hono keeps the parsed body, so the route's validator does not parse it again.
    body = await c.req.json();
  } catch {
    return next();
  }
  const path = nulPath(body, '$');
  if (path === null) return next();
  return c.json(
    errorBody('invalid_request', `${path} holds a NUL character (\\u0000), which cannot be stored`, { path }),
    400,
  );
};

/** Where the first NUL character is, as a JSONPath-like string; null when there is none. */
function nulPath(value: unknown, at: string): string | null {
  // The common case, no NUL anywhere, builds no path strings.
  if (!holdsNul(value)) return null;
  if (typeof value === 'string') return at;
  if (Array.isArray(value)) {
    const i = value.findIndex(holdsNul);
    return nulPath(value[i], `${at}[${i}]`);
  }
  for (const key in value as Record<string, unknown>) {
    if (!Object.hasOwn(value as object, key)) continue;
    if (key.includes('\u0000')) return `${at} (a key)`;
    const v = (value as Record<string, unknown>)[key];
    if (holdsNul(v)) return nulPath(v, `${at}.${key}`);
  }
  return null;
}

/** Whether a NUL character is in any text or key of a parsed JSON value. */
export function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (const v of value) if (holdsNul(v)) return true;
    return false;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (key.includes('\u0000') || holdsNul((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}
