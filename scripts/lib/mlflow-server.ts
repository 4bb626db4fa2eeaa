import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../temporal-dev-server';

const root = path.resolve(import.meta.dirname, '..', '..');

/** A real `mlflow server` (scripts/ensure-mlflow): SQLite backend, its artifact proxy on a temp folder. */
export interface MlflowServerProcess {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export async function startMlflowServer(): Promise<MlflowServerProcess> {
  const bin = execFileSync('bash', [path.join(root, 'scripts', 'ensure-mlflow')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const dir = mkdtempSync(path.join(tmpdir(), 'ctloop-mlflow-'));
  // A Fernet key (32 bytes, URL-safe base64): fixed for the server's life, or its webhooks break.
  const webhookKey = randomBytes(32).toString('base64url') + '=';
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let log = '';
  const launch = async () => {
    child = spawn(
      bin,
      [
        'server',
        '--backend-store-uri',
        `sqlite:///${path.join(dir, 'mlflow.db')}`,
        '--artifacts-destination',
        path.join(dir, 'artifacts'),
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--workers',
        '1',
      ],
      {
        cwd: dir,
        // One worker and no job runner: ~0.5 GB and ~6.5 s to start instead of ~3.4 GB (FIELD-NOTES).
        env: {
          ...process.env,
          MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
          // Webhooks to a local ctloop: http and private addresses allowed, one key for the secrets.
          MLFLOW_WEBHOOK_ALLOWED_SCHEMES: 'http,https',
          MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS: 'true',
          MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY: webhookKey,
          // The server caches each event's webhook list (60 s by default): a webhook made a moment ago counts.
          MLFLOW_WEBHOOK_CACHE_TTL: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    child.stdout!.on('data', (d) => {
      log += d;
    });
    child.stderr!.on('data', (d) => {
      log += d;
    });
    const pid = child.pid!;
    process.once('exit', () => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mlflow server exited (${child.exitCode}):\n${log}`);
      try {
        if ((await fetch(`${url}/health`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`mlflow server not ready after 120 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const stop = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    // The server runs uvicorn/gunicorn workers: stop the whole process group.
    try {
      process.kill(-running.pid!, 'SIGTERM');
    } catch {
      // gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (running.exitCode === null) {
      try {
        process.kill(-running.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  await launch();
  return { url, output: () => log, stop, restart: launch };
}
