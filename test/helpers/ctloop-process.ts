import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateToken, hashToken } from '../../auth/identities';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * A ctloop entry point (`api/server.ts`, `workers/control.ts`, ...) run as
 * its own process, the way `npm run api` etc. start it, so a test can watch
 * it live (or die) through an outage.
 */
export interface CtloopProcess {
  readonly name: string;
  readonly pid: number;
  /** null while it runs. */
  exitCode(): number | null;
  /** Everything it printed. */
  output(): string;
  /** Resolves once `pattern` appears in its output; rejects if it exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startCtloopProcess(opts: {
  name: string;
  script: string;
  env: NodeJS.ProcessEnv;
}): CtloopProcess {
  // node with tsx's loader, one process (the `tsx` CLI would leave its child behind on SIGKILL).
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', opts.script], {
    cwd: root,
    env: { CTLOOP_CODE_VERSION: 'test', LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => {
    log += d;
  });
  child.stderr!.on('data', (d) => {
    log += d;
  });
  let code: number | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (c, signal) => {
      code = c ?? (signal ? 128 : 1);
      resolve();
    }),
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    name: opts.name,
    pid: child.pid!,
    exitCode: () => code,
    output: () => log,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(log)) {
        if (code !== null) throw new Error(`${opts.name} exited (${code}) before ${pattern}:\n${log}`);
        if (Date.now() > deadline)
          throw new Error(`${opts.name}: no ${pattern} after ${timeoutMs} ms:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill(signal = 'SIGKILL') {
      if (code === null) child.kill(signal);
      await exited;
      process.off('exit', killOnExit);
    },
  };
}

/** A token for an API process, and the CTLOOP_TOKENS value that makes the process accept it. */
export function adminToken(): { token: string; env: { CTLOOP_TOKENS: string } } {
  const token = generateToken();
  return {
    token,
    env: { CTLOOP_TOKENS: JSON.stringify([{ name: 'admin', role: 'admin', sha256: hashToken(token) }]) },
  };
}

/** A request with its wall-clock time, for the outage timings. */
export async function timedFetch(
  url: string,
  init: RequestInit = {},
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of documented shapes; tests assert on them
): Promise<{ status: number; body: any; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the failure message
  }
  return { status: res.status, body, ms: performance.now() - started };
}

/**
 * Polls `GET /healthz` until `accept` takes its answer, as a probe would:
 * every answer must come fast (the checks run in the background), and the
 * state must change within `withinMs` (a refresh plus a check's deadline).
 */
export async function healthWhen(
  base: string,
  // biome-ignore lint/suspicious/noExplicitAny: the documented /healthz body
  accept: (res: { status: number; body: any }) => boolean,
  withinMs: number,
  // biome-ignore lint/suspicious/noExplicitAny: the documented /healthz body
): Promise<{ status: number; body: any; ms: number; afterMs: number; slowestMs: number }> {
  const started = Date.now();
  let slowestMs = 0;
  for (;;) {
    const res = await timedFetch(`${base}/healthz`);
    slowestMs = Math.max(slowestMs, res.ms);
    if (accept(res)) return { ...res, afterMs: Date.now() - started, slowestMs };
    if (Date.now() - started > withinMs)
      throw new Error(`/healthz still ${res.status} ${JSON.stringify(res.body)} after ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
