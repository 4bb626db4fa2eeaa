import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import type { Handler } from 'hono';
import type { Db } from '../db/client';
import { describeDatabaseError } from '../db/errors';

/**
 * Each dependency gets this long to answer a health probe. Probes (load
 * balancers, Kubernetes) give up after a second or so; an answer that names
 * what is down is worth more than one that waits for it to come back.
 */
export const HEALTH_CHECK_DEADLINE_MS = 800;

type Check = 'ok' | `error: ${string}`;

async function withinDeadline(
  check: () => Promise<unknown>,
  describe: (err: unknown) => string,
): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Check>((resolve) => {
    timer = setTimeout(
      () => resolve(`error: no answer within ${HEALTH_CHECK_DEADLINE_MS} ms`),
      HEALTH_CHECK_DEADLINE_MS,
    );
  });
  const answered = check().then(
    (): Check => 'ok',
    (err): Check => `error: ${describe(err)}`,
  );
  try {
    return await Promise.race([answered, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /healthz`: 200 `ok`, or 503 `degraded` with the check that failed
 * (`database`, `temporal`). Both are asked at once, each with its own
 * deadline, so the answer comes within a second whatever is down.
 */
export function healthHandler(deps: { db: Db; temporal: Client }): Handler {
  return async (c) => {
    const [database, temporal] = await Promise.all([
      withinDeadline(() => deps.db.execute(sql`select 1`), describeDatabaseError),
      withinDeadline(
        () =>
          // The gRPC deadline ends the call (and its retries) rather than leaving it running.
          deps.temporal.connection.withDeadline(Date.now() + HEALTH_CHECK_DEADLINE_MS, () =>
            deps.temporal.connection.workflowService.getSystemInfo({}),
          ),
        (err) => (err as Error)?.message?.split('\n')[0] ?? String(err),
      ),
    ]);
    const checks = { database, temporal };
    const ok = database === 'ok' && temporal === 'ok';
    return c.json({ status: ok ? 'ok' : 'degraded', checks }, ok ? 200 : 503);
  };
}
