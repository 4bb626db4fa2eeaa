import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import type { Handler } from 'hono';
import type { Db } from '../db/client';
import { describeDatabaseError } from '../db/errors';

/**
 * Each dependency gets this long to answer a health check. Probes (load
 * balancers, Kubernetes) give up after a second or so; an answer that names
 * what is down is worth more than one that waits for it to come back.
 */
export const HEALTH_CHECK_DEADLINE_MS = 800;

/**
 * How often the checks run while someone asks. A probe is answered from the
 * latest state at once, so an outage shows in /healthz within this plus a
 * check's deadline.
 */
export const HEALTH_REFRESH_MS = 1000;

/** With no probe for this long, the checks stop until the next one (a test stack, a process nobody watches). */
export const HEALTH_KEEP_WARM_MS = 60_000;

type CheckResult = 'ok' | `error: ${string}`;

export interface HealthCheck {
  run(): Promise<unknown>;
  /** The failure as one line for people (never SQL or a stack). */
  describe(err: unknown): string;
}

export interface HealthState {
  readonly status: 'ok' | 'degraded';
  readonly checks: Record<string, CheckResult>;
  /** When the checks that gave this state ended. */
  readonly checkedAt: string;
}

export interface HealthMonitor {
  /** The latest state; waits for a check only when there is none recent enough (the first probe, or after a stall). */
  current(): Promise<HealthState>;
}

async function withinDeadline(check: HealthCheck, deadlineMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve(`error: no answer within ${deadlineMs} ms`), deadlineMs);
  });
  const answered = check.run().then(
    (): CheckResult => 'ok',
    (err): CheckResult => `error: ${check.describe(err)}`,
  );
  try {
    return await Promise.race([answered, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the checks (all at once, each with its own deadline) in the
 * background, every `refreshMs` for as long as probes keep asking, so that a
 * probe costs nothing but the answer. The first probe, or one that finds the
 * state older than two refreshes and a deadline, waits for a fresh check.
 */
export function createHealthMonitor(
  checks: Readonly<Record<string, HealthCheck>>,
  opts: { refreshMs?: number; deadlineMs?: number; keepWarmMs?: number } = {},
): HealthMonitor {
  const refreshMs = opts.refreshMs ?? HEALTH_REFRESH_MS;
  const deadlineMs = opts.deadlineMs ?? HEALTH_CHECK_DEADLINE_MS;
  const keepWarmMs = opts.keepWarmMs ?? HEALTH_KEEP_WARM_MS;
  let state: { value: HealthState; at: number } | null = null;
  let checking: Promise<void> | null = null;
  let lastAsked = 0;
  let timer: NodeJS.Timeout | null = null;

  const check = () =>
    (checking ??= (async () => {
      const names = Object.keys(checks);
      const results = await Promise.all(names.map((name) => withinDeadline(checks[name]!, deadlineMs)));
      const value: HealthState = {
        status: results.every((r) => r === 'ok') ? 'ok' : 'degraded',
        checks: Object.fromEntries(names.map((name, i) => [name, results[i]!])),
        checkedAt: new Date().toISOString(),
      };
      state = { value, at: Date.now() };
    })().finally(() => {
      checking = null;
    }));

  const schedule = () => {
    timer = setTimeout(async () => {
      if (Date.now() - lastAsked > keepWarmMs) {
        timer = null;
        return;
      }
      await check();
      schedule();
    }, refreshMs);
    timer.unref();
  };

  return {
    async current() {
      lastAsked = Date.now();
      if (!timer) schedule();
      if (!state || Date.now() - state.at > 2 * refreshMs + deadlineMs) await check();
      return state!.value;
    },
  };
}

/** The database answers `select 1`. */
export function databaseCheck(db: Db): HealthCheck {
  return { run: () => db.execute(sql`select 1`), describe: describeDatabaseError };
}

/** The Temporal frontend answers; the gRPC deadline ends the call (and its retries) rather than leaving it running. */
export function temporalCheck(temporal: Client, deadlineMs = HEALTH_CHECK_DEADLINE_MS): HealthCheck {
  return {
    run: () =>
      temporal.connection.withDeadline(Date.now() + deadlineMs, () =>
        temporal.connection.workflowService.getSystemInfo({}),
      ),
    describe: (err) => (err as Error)?.message?.split('\n')[0] ?? String(err),
  };
}

/**
 * `GET /healthz`: 200 `ok`, or 503 `degraded` with the check that failed
 * (e.g. `database`, `temporal`), from the monitor's latest state.
 */
export function healthHandler(monitor: HealthMonitor): Handler {
  return async (c) => {
    const state = await monitor.current();
    return c.json(state, state.status === 'ok' ? 200 : 503);
  };
}
