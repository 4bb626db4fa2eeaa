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

/** The machine's CPU time so far, from /proc/stat's `cpu` line, in clock ticks; null off Linux. */
export function machineCpuTicks(): { total: number; steal: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal (guest time is counted in user already).
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, steal: fields[7] ?? 0 };
  } catch {
    return null;
  }
}

/**
 * The share of the machine's CPU time (in percent) the hypervisor gave to other
 * guests between two readings of `machineCpuTicks` (steal): on a shared VM,
 * time the benchmark's processes wanted to run and could not.
 */
export function stolenPercent(
  before: ReturnType<typeof machineCpuTicks>,
  after: ReturnType<typeof machineCpuTicks>,
): number | null {
  if (!before || !after || after.total <= before.total) return null;
  return Math.round(((after.steal - before.steal) / (after.total - before.total)) * 1000) / 10;
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
