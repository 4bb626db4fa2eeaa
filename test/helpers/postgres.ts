/**
 * A real Postgres for the tests: scripts/ensure-postgres starts (or finds) the
 * local test cluster; each test file gets its own database.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ENSURE_POSTGRES_SCRIPT = fileURLToPath(new URL('../../scripts/ensure-postgres', import.meta.url));

/** Runs scripts/ensure-postgres (fast when the server is up) and returns its DATABASE_URL. */
export function ensurePostgres(): string {
  const out = execFileSync('bash', [ENSURE_POSTGRES_SCRIPT], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    // a fresh machine may first need `apt-get install postgresql`
    timeout: 15 * 60_000,
  });
  const url = out.trim().split('\n').pop()?.trim();
  if (!url?.startsWith('postgres')) throw new Error(`scripts/ensure-postgres printed no URL: ${out}`);
  return url;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** A database name Postgres accepts (<= 63 bytes, lower case, [a-z0-9_]). */
export function testDatabaseName(hint: string): string {
  const base = hint
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  const suffix = `${process.pid.toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  return `t_${base.slice(0, 63 - 3 - suffix.length)}_${suffix}`;
}

/**
 * Creates database `name` on the server of `baseUrl` (dropping a leftover of
 * the same name first) and returns its URL; drop() removes it, ending any
 * connections still open to it.
 */
export async function createTestDatabase(
  baseUrl: string,
  name: string,
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  if (name.length > 63) throw new Error(`database name longer than 63 bytes: ${name}`);
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${quoteIdent(name)}`);
  const url = new URL(baseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
  };
}
