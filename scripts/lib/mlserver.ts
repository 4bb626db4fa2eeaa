import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CTLOOP_RUNTIME_DIR } from '../../serving/v2-server';
import { freePort } from '../temporal-dev-server';

const root = path.resolve(import.meta.dirname, '..', '..');

/** A real MLServer process (scripts/ensure-mlserver) with ctloop's runtime and an empty model repository. */
export interface MlServerProcess {
  readonly url: string;
  readonly repository: string;
  /** The server's process id while it runs (for CPU accounting). */
  pid(): number | null;
  output(): string;
  /** Starts it again on the same port and repository (it loads what the repository holds). */
  restart(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startMlServer(): Promise<MlServerProcess> {
  const bin = execFileSync('bash', [path.join(root, 'scripts', 'ensure-mlserver')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const repository = mkdtempSync(path.join(tmpdir(), 'ctloop-mlserver-'));
  const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    path.join(repository, 'settings.json'),
    // One process: no inference worker pool (~150 MB instead of one Python per core).
    JSON.stringify({
      http_port: httpPort,
      grpc_port: grpcPort,
      metrics_port: metricsPort,
      parallel_workers: 0,
    }),
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | null = null;
  let log = '';
  const launch = async () => {
    child = spawn(bin, ['start', repository], {
      cwd: repository,
      env: { ...process.env, PYTHONPATH: CTLOOP_RUNTIME_DIR, MLSERVER_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => {
      log += d;
    });
    child.stderr!.on('data', (d) => {
      log += d;
    });
    process.once('exit', () => child?.kill('SIGKILL'));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mlserver exited (${child.exitCode}):\n${log}`);
      try {
        if ((await fetch(`${url}/v2/health/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`mlserver not ready after 60 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill(signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (running.exitCode === null) running.kill('SIGKILL');
  };
  await launch();
  return {
    url,
    repository,
    pid: () => (child as ChildProcess | null)?.pid ?? null,
    output: () => log,
    restart: launch,
    stop,
  };
}
