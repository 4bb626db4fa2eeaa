import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../../scripts/temporal-dev-server';
import { ensurePostgres } from '../../../test/helpers/postgres';

/**
 * A Postgres server of the soak's own, in its folder, that the soak may stop
 * and start again on the same port (an outage) without touching the test
 * cluster that other runs on this machine use.
 */
export interface PostgresServer {
  /** URL of the soak's database. */
  readonly url: string;
  readonly port: number;
  /** Stops the server (`pg_ctl stop -m fast`: sessions are cut, like a database going away). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good (its files stay in the soak's folder). */
  close(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

/** Runs a server binary as the cluster's owner (postgres when we are root: initdb refuses root). */
async function asOwner(bin: string, args: string[]): Promise<void> {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  await promisify(execFile)(cmd, argv, { encoding: 'utf8', cwd: '/' });
}

function serverBinDir(): string | undefined {
  const candidates: string[] = [];
  if (process.env.CTLOOP_PG_BINDIR) candidates.push(process.env.CTLOOP_PG_BINDIR);
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config: look in Debian's layout
  }
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  }
  return candidates.find((d) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(path.join(d, b))));
}

export async function startPostgresServer(dir: string): Promise<PostgresServer> {
  let bindir = serverBinDir();
  if (!bindir) {
    ensurePostgres(); // installs Debian's postgresql when the machine has none
    bindir = serverBinDir();
  }
  if (!bindir) throw new Error('no Postgres server binaries (initdb, pg_ctl, postgres) found');
  const pgdata = path.join(dir, 'pgdata');
  mkdirSync(pgdata, { recursive: true });
  chmodSync(dir, 0o755);
  if (isRoot) execFileSync('chown', ['-R', 'postgres:postgres', pgdata]);
  chmodSync(pgdata, 0o700);
  await asOwner(path.join(bindir, 'initdb'), [
    '-D',
    pgdata,
    '-U',
    'ctloop',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-locale',
  ]);
  const port = await freePort();
  writeFileSync(
    path.join(pgdata, 'postgresql.auto.conf'),
    [
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${pgdata}'`,
      'max_connections = 300',
      // throwaway data: speed over durability
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      '',
    ].join('\n'),
  );
  if (isRoot) execFileSync('chown', ['postgres:postgres', path.join(pgdata, 'postgresql.auto.conf')]);
  const pgCtl = (...args: string[]) => asOwner(path.join(bindir, 'pg_ctl'), ['-D', pgdata, ...args]);
  const start = async () => {
    await pgCtl('-l', path.join(pgdata, 'server.log'), '-w', '-t', '60', 'start');
  };
  const stop = async () => {
    await pgCtl('-m', 'fast', '-w', '-t', '60', 'stop');
  };
  await start();
  // A soak that dies must not leave its server running.
  const stopOnExit = () => {
    try {
      const ctl = [path.join(bindir, 'pg_ctl'), '-D', pgdata, '-m', 'immediate', 'stop'];
      execFileSync(isRoot ? 'runuser' : ctl[0]!, isRoot ? ['-u', 'postgres', '--', ...ctl] : ctl.slice(1), {
        stdio: 'ignore',
        cwd: '/',
      });
    } catch {
      // not running
    }
  };
  process.once('exit', stopOnExit);
  const admin = new pg.Client({ connectionString: `postgres://ctloop@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE ctloop');
  await admin.end();
  let closed = false;
  return {
    url: `postgres://ctloop@127.0.0.1:${port}/ctloop`,
    port,
    start,
    stop,
    async close() {
      if (closed) return;
      closed = true;
      process.off('exit', stopOnExit);
      try {
        await pgCtl('-m', 'immediate', '-w', 'stop');
      } catch {
        // already stopped
      }
    },
  };
}
