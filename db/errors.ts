/**
 * Telling "the database is not there right now" apart from every other
 * database error. An outage is the operator's problem and passes by itself:
 * the API answers 503 `database_unavailable` (never the SQL text of the
 * failed statement), background writers retry, activities fail and are
 * retried. Any other database error is a bug and stays one.
 */

/**
 * SQLSTATE classes and codes of a server that is going away, starting, out of
 * connections or cancelled our statement (statement_timeout).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '58030']);
const UNAVAILABLE_SQLSTATE_CLASSES = ['08'];

/** Node socket errors on a connection to the server. */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** What node-postgres says when a connection dies or a pool gives up waiting for one. */
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection timeout|Query read timeout|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|Client was closed and is not queryable|Cannot use a pool after calling end/i;

/** True when `err`, or an error in its `cause` chain, says the database cannot be reached. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') return false;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (UNAVAILABLE_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
      if (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
    }
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true;
    // AggregateError (a connect that tried IPv4 and IPv6)
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.some(isDatabaseUnavailable)) return true;
  }
  return false;
}

/** True for any error raised by the database layer (drizzle or the driver), outage or not. */
export function isDatabaseError(err: unknown): boolean {
  if (isDatabaseUnavailable(err)) return true;
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') return false;
    const name = (e as { name?: unknown }).name;
    const ctor = (e as object).constructor?.name;
    if (ctor === 'DrizzleQueryError' || ctor === 'DatabaseError' || name === 'DrizzleQueryError') return true;
  }
  return false;
}

/**
 * A short, SQL-free description of a database failure, safe for API
 * answers, health checks and log lines read by operators (the full error,
 * statement included, still goes to the log with `err`).
 */
export function describeDatabaseError(err: unknown): string {
  let codeOnly: string | null = null;
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') break;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof message === 'string' && !/^Failed query:/.test(message) && message.length > 0) {
      const first = message.split('\n')[0]!.slice(0, 200);
      return typeof code === 'string' ? `${first} (${code})` : first;
    }
    // A refused connect to both IPv4 and IPv6 is an AggregateError with an empty message.
    if (typeof code === 'string') codeOnly ??= code;
  }
  return codeOnly ?? 'database error';
}
