import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashToken } from '../../auth/identities';
import { type Stack, TEST_IDENTITIES, type TestIdentity } from './stack';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Runs `workers/all.ts` as its own process against a test stack's database,
 * artifact store and task queues, so a test can kill it like a lost machine.
 */
export interface WorkerProcess {
  readonly pid: number;
  /** Everything it logged, for assertions and for failure messages. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** The environment that points a ctloop process (worker or API) at a test stack's services. */
export function stackProcessEnv(stack: Stack): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    CTLOOP_TASK_QUEUE: stack.taskQueues.control,
    CTLOOP_TRAIN_TASK_QUEUE: stack.taskQueues.train,
    CTLOOP_GPU_TRAIN_TASK_QUEUE: stack.taskQueues.gpuTrain,
    CTLOOP_DATA_DIR: stack.dataDir,
    CTLOOP_ARTIFACTS_DIR: stack.artifactsDir,
    // The run looks up whoever sends it a decision or a control, so its workers know the stack's people.
    CTLOOP_TOKENS: JSON.stringify(
      (Object.keys(TEST_IDENTITIES) as TestIdentity[]).map((name) => ({
        name,
        role: TEST_IDENTITIES[name].role,
        groups: [...TEST_IDENTITIES[name].groups],
        sha256: hashToken(stack.tokens[name]),
      })),
    ),
  };
}

export async function startWorkerProcess(
  stack: Stack,
  opts: { script?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<WorkerProcess> {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  if (!stack.databaseUrl) {
    throw new Error('a separate worker process needs a Postgres database (PGlite is single-process)');
  }
  // One process (node with tsx's loader), so that SIGKILL takes the worker down like a lost machine;
  // the `tsx` CLI would leave its child running.
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', opts.script ?? 'workers/all.ts'], {
    cwd: root,
    env: { ...stackProcessEnv(stack), CTLOOP_CODE_VERSION: 'test', LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => {
    log += d;
  });
  child.stderr!.on('data', (d) => {
    log += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const deadline = Date.now() + timeoutMs;
  while (!/worker polling/.test(log)) {
    if (child.exitCode !== null) throw new Error(`worker process exited during start-up:\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker process not polling after ${timeoutMs} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    output: () => log,
    async kill(signal) {
      if (child.exitCode === null) child.kill(signal);
      await exited;
      process.off('exit', killOnExit);
    },
  };
}
