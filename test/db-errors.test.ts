import { DrizzleQueryError } from 'drizzle-orm/errors';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeDatabaseError, isDatabaseError, isDatabaseUnavailable } from '../db/errors';
import { freePort } from '../scripts/temporal-dev-server';

/** A server error as node-postgres raises it: a DatabaseError carrying the SQLSTATE. */
function serverError(message: string, code: string): Error {
  const err = new pg.DatabaseError(message, 0, 'error');
  (err as { code?: string }).code = code;
  return err;
}

const failedQuery = (cause: Error) =>
  new DrizzleQueryError('update "runs" set "reports" = $1 where "runs"."id" = $2', ['{}', 'r1'], cause);

describe('database errors: an outage told apart from a bug', () => {
  it('a refused connection (nothing listening on the port) is an outage', async () => {
    const client = new pg.Client({ connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/db` });
    client.on('error', () => {});
    const err = await client.connect().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).not.toBeNull();
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect(describeDatabaseError(err)).toMatch(/ECONNREFUSED/);
  });

  it.each([
    ['admin shutdown', serverError('terminating connection due to administrator command', '57P01'), true],
    ['server starting', serverError('the database system is starting up', '57P03'), true],
    ['statement timeout', serverError('canceling statement due to statement timeout', '57014'), true],
    ['connection exception class', serverError('connection failure', '08006'), true],
    ['pool gave up waiting', new Error('timeout exceeded when trying to connect'), true],
    ['connection died mid-query', new Error('Connection terminated unexpectedly'), true],
    ['unique violation (a bug or a race, not an outage)', serverError('duplicate key value', '23505'), false],
    ['syntax error', serverError('syntax error at or near "selec"', '42601'), false],
  ])('%s, as drizzle wraps it', (_name, cause, unavailable) => {
    const err = failedQuery(cause);
    expect(isDatabaseUnavailable(err)).toBe(unavailable);
    expect(isDatabaseError(err)).toBe(true);
    // What reaches callers names the cause, never the statement.
    expect(describeDatabaseError(err)).toBe(
      (cause as { code?: string }).code
        ? `${cause.message} (${(cause as { code?: string }).code})`
        : cause.message,
    );
    expect(describeDatabaseError(err)).not.toMatch(/update "runs"|params/);
  });

  it('an error from elsewhere is neither', () => {
    expect(isDatabaseUnavailable(new Error('ENOENT: no such file'))).toBe(false);
    expect(isDatabaseError(new TypeError('x is undefined'))).toBe(false);
  });
});
