import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { isDatabaseUnavailable } from './errors';
import * as schema from './schema';

/** The database handle every module receives: Postgres (pg) or embedded PGlite, same API. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: Db;
  /** 'postgres' when DATABASE_URL is set, 'pglite' for the embedded default. */
  readonly kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * Key of the session-level advisory lock held while migrating: processes
 * started together on an empty database (docker-compose, replicas) would
 * otherwise all create drizzle's book-keeping tables and the schema at once,
 * and all but one die on a duplicate key in pg_type.
 */
export const MIGRATION_LOCK_KEY = 7_240_513_001;

/** How a process waits for a Postgres that is not up yet (start-up in any order). */
export interface WaitForServer {
  /** Give up after this long (default: keep waiting). */
  readonly timeoutMs?: number;
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
}

/**
 * Opens the registry and applies pending migrations. With a URL it uses a
 * `pg` pool; without one, PGlite stores its files in `pgliteDir` (or in
 * memory when that is undefined). PGlite is single-process: with it, the API
 * and the workers must share one process (`npm run dev` does).
 */
export async function openDatabase(opts: {
  url?: string;
  pgliteDir?: string;
  poolSize?: number;
  /**
   * How long a query waits for a connection (a new one or a free one of the
   * pool) before it fails. Short in the API, so that a database outage is a
   * 503 within a second rather than a hang.
   */
  connectTimeoutMs?: number;
  /** Retry the first connection until the server answers; without it, one try. */
  waitForServer?: WaitForServer;
  /** Told about connections the pool lost while idle (the pool replaces them). */
  onPoolError?(err: Error): void;
}): Promise<Database> {
  if (opts.url) {
    const url = opts.url;
    await retryUntilUp(() => migrateUnderLock(url), opts.waitForServer);
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      // Kept open while idle: a request then rarely pays for a new connection, whose set-up (a
      // backend process, SCRAM) can take most of a short connect timeout on a busy machine.
      min: Math.min(2, opts.poolSize ?? 10),
      // A server that vanishes without closing the socket is noticed by TCP keep-alive.
      keepAlive: true,
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', (err) => opts.onPoolError?.(err));
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    // One connection opened now, not by the first request.
    await pool.query('select 1').catch(() => {});
    return { db, kind: 'postgres', close: () => pool.end() };
  }
  if (opts.pgliteDir) mkdirSync(opts.pgliteDir, { recursive: true });
  // PGlite is single-process and in-process: nobody to race with, no lock needed.
  const client = opts.pgliteDir ? new PGlite(opts.pgliteDir) : new PGlite();
  const db = drizzlePglite(client, { schema });
  await migratePglite(db, { migrationsFolder });
  return { db: db as unknown as Db, kind: 'pglite', close: () => client.close() };
}

/** Migrates on one connection, under the advisory lock, then closes it (drizzle's recommended start-up). */
async function migrateUnderLock(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  // A connection that dies while we wait for the lock must reject the query, not crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await migratePg(drizzlePg(client), { migrationsFolder });
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  } finally {
    // Ending the session also releases the lock if migrating failed.
    await client.end().catch(() => {});
  }
}

async function retryUntilUp(attempt: () => Promise<void>, wait: WaitForServer | undefined): Promise<void> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const timedOut = wait?.timeoutMs !== undefined && Date.now() - started > wait.timeoutMs;
      if (!wait || timedOut || !isDatabaseUnavailable(err)) throw err;
      const delayMs = Math.min(5_000, 250 * 2 ** Math.min(n - 1, 5));
      wait.onRetry?.(err, n, delayMs);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
