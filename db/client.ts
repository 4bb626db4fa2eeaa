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
 * Opens the registry and applies pending migrations. With a URL it uses a
 * `pg` pool; without one, PGlite stores its files in `pgliteDir` (or in
 * memory when that is undefined). PGlite is single-process: with it, the API
 * and the workers must share one process (`npm run dev` does).
 */
export async function openDatabase(opts: {
  url?: string;
  pgliteDir?: string;
  poolSize?: number;
}): Promise<Database> {
  if (opts.url) {
    // Migrate on one connection, then hand out the pool (drizzle's recommended start-up).
    const migrationClient = new pg.Client({ connectionString: opts.url });
    await migrationClient.connect();
    try {
      await migratePg(drizzlePg(migrationClient), { migrationsFolder });
    } finally {
      await migrationClient.end();
    }
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    return { db, kind: 'postgres', close: () => pool.end() };
  }
  if (opts.pgliteDir) mkdirSync(opts.pgliteDir, { recursive: true });
  const client = opts.pgliteDir ? new PGlite(opts.pgliteDir) : new PGlite();
  const db = drizzlePglite(client, { schema });
  await migratePglite(db, { migrationsFolder });
  return { db: db as unknown as Db, kind: 'pglite', close: () => client.close() };
}
