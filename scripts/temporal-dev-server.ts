/**
 * The Temporal dev server as ctloop uses it, shared by `npm run dev`
 * (scripts/dev.ts) and the tests (test/helpers/temporal-server.ts):
 * where the CLI comes from, the flags it runs with (search attributes,
 * dynamic config), and how to tell that it is ready.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';

/** Custom search attributes every ctloop workflow may upsert; the server must know them. */
export const SEARCH_ATTRIBUTES = {
  CtModel: 'Keyword',
  CtStage: 'Keyword',
  CtOutcome: 'Keyword',
  CtTrigger: 'Keyword',
} as const;

/** Dynamic config the dev server runs with (update-with-start, updates, eager start). */
export const DYNAMIC_CONFIG = {
  'frontend.enableExecuteMultiOperation': true,
  'frontend.enableUpdateWorkflowExecution': true,
  'system.enableEagerWorkflowStart': true,
} as const;

export const ENSURE_TEMPORAL_SCRIPT = fileURLToPath(new URL('./ensure-temporal', import.meta.url));

export interface DevServerArgsOptions {
  port: number;
  /** Web UI port; ignored when headless. Default: the CLI's own (port + 1000). */
  uiPort?: number;
  /** SQLite file for persistent state; default in-memory (state dies with the process). */
  dbFilename?: string;
  headless?: boolean;
  /** IP to bind (default 127.0.0.1). */
  ip?: string;
  /** Extra namespaces to create at launch ("default" always exists). */
  namespaces?: string[];
  /** Server log level (CLI global option; default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
}

/** Arguments for `temporal` (after the binary) that start ctloop's dev server. */
export function devServerArgs(o: DevServerArgsOptions): string[] {
  const args = ['server', 'start-dev', '--ip', o.ip ?? '127.0.0.1', '--port', String(o.port)];
  if (o.headless) args.push('--headless');
  else if (o.uiPort !== undefined) args.push('--ui-port', String(o.uiPort));
  if (o.dbFilename) args.push('--db-filename', o.dbFilename);
  for (const ns of o.namespaces ?? []) if (ns !== 'default') args.push('--namespace', ns);
  args.push('--log-level', o.logLevel ?? 'warn');
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(DYNAMIC_CONFIG)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return args;
}

/**
 * Absolute path of a working Temporal CLI: runs scripts/ensure-temporal, which
 * honours TEMPORAL_CLI_PATH and otherwise installs the pinned CLI under .tools/
 * (fast when already installed). Its log lines go to our stderr.
 */
export function ensureTemporalCli(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('bash', [ENSURE_TEMPORAL_SCRIPT], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) {
        reject(new Error(`scripts/ensure-temporal failed: ${err.message}`));
        return;
      }
      const cliPath = stdout.trim().split('\n').pop()?.trim();
      if (!cliPath) reject(new Error('scripts/ensure-temporal printed no path'));
      else resolve(cliPath);
    });
    child.stderr?.pipe(process.stderr);
  });
}

/** A TCP port that was free a moment ago on `host`. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

export interface WaitForTemporalOptions {
  timeoutMs?: number;
  namespace?: string;
  /** Search attributes that must be registered before we call it ready (default SEARCH_ATTRIBUTES). */
  searchAttributes?: readonly string[];
  /** Called between attempts; throw to give up early (e.g. the server process died). */
  check?: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once the frontend at `address` answers DescribeNamespace for the
 * namespace and lists the custom search attributes; rejects after timeoutMs
 * (default 60 s) with the last error.
 */
export async function waitForTemporal(address: string, opts: WaitForTemporalOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const namespace = opts.namespace ?? 'default';
  const wanted = opts.searchAttributes ?? Object.keys(SEARCH_ATTRIBUTES);
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt made';
  while (Date.now() < deadline) {
    opts.check?.();
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2_000 });
      const conn = connection;
      const callDeadline = () => Date.now() + 2_000;
      await conn.withDeadline(callDeadline(), () => conn.workflowService.describeNamespace({ namespace }));
      const sa = await conn.withDeadline(callDeadline(), () =>
        conn.operatorService.listSearchAttributes({ namespace }),
      );
      const custom = Object.keys(sa.customAttributes ?? {});
      const missing = wanted.filter((name) => !custom.includes(name));
      if (missing.length === 0) return;
      lastError = `search attributes not registered yet: ${missing.join(', ')}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    } finally {
      await connection?.close().catch(() => {});
    }
    await sleep(250);
  }
  throw new Error(
    `Temporal at ${address} not ready after ${timeoutMs} ms (namespace ${namespace}): ${lastError}`,
  );
}

export interface StartDevServerOptions {
  /** gRPC port; default: a free port. */
  port?: number;
  /** Web UI port; default: a free port (unless headless). */
  uiPort?: number;
  dbFilename?: string;
  headless?: boolean;
  /** Namespace to create (besides "default") and wait for. */
  namespace?: string;
  readyTimeoutMs?: number;
  /** Receives the server's stdout/stderr; default: kept only for error messages. */
  onOutput?: (chunk: string) => void;
  logLevel?: DevServerArgsOptions['logLevel'];
}

export interface RunningDevServer {
  /** host:port of the frontend gRPC service. */
  address: string;
  namespace: string;
  uiUrl?: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process has exited. Idempotent. */
  stop(): Promise<void>;
}

const OUTPUT_TAIL_CHARS = 8_000;

/**
 * Spawns `temporal server start-dev` with ctloop's flags and waits until it is
 * ready (namespace + search attributes). The server is killed when this
 * process exits, and by a small watchdog if this process is killed outright.
 * Retries with new ports (up to 3 times) if auto-picked ports were taken.
 */
export async function startDevServer(opts: StartDevServerOptions = {}): Promise<RunningDevServer> {
  const cli = await ensureTemporalCli();
  const attempts = opts.port === undefined && opts.uiPort === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(cli, opts);
    } catch (err) {
      if (attempt >= attempts || !(err instanceof ServerExitedError)) throw err;
    }
  }
}

class ServerExitedError extends Error {}

async function startOnce(cli: string, opts: StartDevServerOptions): Promise<RunningDevServer> {
  const host = '127.0.0.1';
  const headless = opts.headless ?? false;
  const port = opts.port ?? (await freePort(host));
  const uiPort = headless ? undefined : (opts.uiPort ?? (await freePort(host)));
  const namespace = opts.namespace ?? 'default';
  const args = devServerArgs({
    port,
    uiPort,
    headless,
    dbFilename: opts.dbFilename,
    namespaces: [namespace],
    logLevel: opts.logLevel,
  });

  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const onData = (buf: Buffer) => {
    const s = buf.toString('utf8');
    tail = (tail + s).slice(-OUTPUT_TAIL_CHARS);
    opts.onOutput?.(s);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exited ??= { code: null, signal: null };
      resolve();
    });
  });

  const watchdog = child.pid !== undefined ? startWatchdog(process.pid, child.pid) : undefined;
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
    watchdog?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, 10_000);
        await exitPromise;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      watchdog?.kill('SIGKILL');
    })();
    return stopping;
  };

  const address = `${host}:${port}`;
  const describe = () =>
    `temporal ${args.join(' ')}\n--- server output (tail) ---\n${tail.trim() || '(none)'}`;
  try {
    await waitForTemporal(address, {
      namespace,
      timeoutMs: opts.readyTimeoutMs ?? 60_000,
      check: () => {
        if (exited) {
          const how = spawnError
            ? `failed to start: ${spawnError.message}`
            : `exited with ${exited.signal ?? `code ${exited.code}`}`;
          throw new ServerExitedError(`Temporal dev server ${how} before it was ready\n${describe()}`);
        }
      },
    });
  } catch (err) {
    await stop();
    if (err instanceof ServerExitedError) throw err;
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${describe()}`);
  }

  return {
    address,
    namespace,
    uiUrl: uiPort !== undefined ? `http://${host}:${uiPort}` : undefined,
    pid: child.pid!,
    stop,
  };
}

/**
 * A detached shell that kills `childPid` once `parentPid` is gone, so a server
 * does not outlive a test run that was killed with SIGKILL (no 'exit' event).
 */
function startWatchdog(parentPid: number, childPid: number): ChildProcess | undefined {
  if (process.platform === 'win32') return undefined;
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
    'kill -TERM "$2" 2>/dev/null; sleep 5; kill -KILL "$2" 2>/dev/null; exit 0';
  try {
    const wd = spawn('sh', ['-c', script, 'ctloop-temporal-watchdog', String(parentPid), String(childPid)], {
      detached: true,
      stdio: 'ignore',
    });
    wd.on('error', () => {});
    wd.unref();
    return wd;
  } catch {
    return undefined;
  }
}
