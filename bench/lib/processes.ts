import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU time (user + system, ms) a process has used so far; null where /proc is not there. */
export function cpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of proc(5), in clock ticks (100 a second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * A server script (`api/server.ts`, a bench server) as its own process on
 * loopback, returned once `healthPath` answers 2xx.
 */
export async function startServerProcess(opts: {
  script: string;
  port: number;
  env: NodeJS.ProcessEnv;
  healthPath?: string;
  /** Extra node options, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
}): Promise<ServerProcess> {
  const args = [...(opts.nodeArgs ?? []), '--import', 'tsx', opts.script];
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...opts.env, PORT: String(opts.port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${opts.port}`;
  for (const deadline = Date.now() + 60_000; ; ) {
    if (child.exitCode !== null) throw new Error(`${opts.script} exited during start-up`);
    const healthy = await fetch(`${url}${opts.healthPath ?? '/healthz'}`)
      .then((r) => r.ok)
      .catch(() => false);
    if (healthy) break;
    if (Date.now() > deadline) throw new Error(`${opts.script} not healthy after 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
