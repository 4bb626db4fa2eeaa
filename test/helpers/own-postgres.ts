import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../../scripts/temporal-dev-server';

const ENSURE_POSTGRES_SCRIPT = fileURLToPath(new URL('../../scripts/ensure-postgres', import.meta.url));
const run = promisify(execFile);

/**
 * A Postgres cluster of the test's own (scripts/ensure-postgres with
 * CTLOOP_PG_DATA and CTLOOP_PG_PORT), so the test can stop and start it
 * without taking down the shared cluster the other test files use.
 */
export interface OwnPostgres {
  readonly url: string;
  stop(): Promise<void>;
  /** Resolves when the server accepts connections again (pg_ctl -w). */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  // Traversable by the `postgres` OS user, which runs the server when tests run as root.
  const parent = mkdtempSync(path.join(tmpdir(), 'ctloop-own-pg-'));
  chmodSync(parent, 0o755);
  const port = await freePort();
  const env = { ...process.env, CTLOOP_PG_DATA: path.join(parent, 'cluster'), CTLOOP_PG_PORT: String(port) };
  const ensure = async (...args: string[]) =>
    (await run('bash', [ENSURE_POSTGRES_SCRIPT, ...args], { env, timeout: 5 * 60_000 })).stdout.trim();
  const url = (await ensure()).split('\n').pop()!.trim();
  if (!url.startsWith('postgres')) throw new Error(`scripts/ensure-postgres printed no URL: ${url}`);
  return {
    url,
    stop: async () => {
      await ensure('--stop');
    },
    start: async () => {
      await ensure();
    },
    destroy: async () => {
      await ensure('--stop').catch(() => {});
      rmSync(parent, { recursive: true, force: true });
    },
  };
}
