import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DefaultLogger,
  type LogLevel,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import { type ActivityDeps, createActivities } from '../activities';
import type { Config } from '../config/env';
import { type Database, openDatabase } from '../db/client';
import { createGateway } from '../serving/gateway';
import { createLocalArtifactStore } from '../storage/artifact-store';
import { createBuiltinLogRegTrainer } from '../trainers/builtin-logreg';

/**
 * Builds the real dependencies from configuration. Only process entry points
 * (workers, the API server, the dev runner) call this; tests build the same
 * things against their own database and server.
 */
export const workflowsPath = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'workflows',
  'index.ts',
);

export function createLogger(config: Pick<Config, 'logLevel'>, name: string): Logger {
  return pino({ name, level: config.logLevel });
}

const sdkLevels: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

let sdkLoggingInstalled = false;

/** The Temporal SDK (workers, workflow `log`) logs at the same level as ctloop; before any worker, once per process. */
export function installSdkLogging(config: Pick<Config, 'logLevel'>): void {
  if (sdkLoggingInstalled) return;
  Runtime.install({ logger: new DefaultLogger(sdkLevels[config.logLevel] ?? 'INFO') });
  sdkLoggingInstalled = true;
}

/** The git commit of this checkout, recorded in every model version's lineage. */
export function detectCodeVersion(): string {
  if (process.env.CTLOOP_CODE_VERSION) return process.env.CTLOOP_CODE_VERSION;
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

export async function openRuntime(
  config: Config,
  log: Logger,
): Promise<{ database: Database; deps: ActivityDeps }> {
  const database = await openDatabase({
    url: config.databaseUrl,
    pgliteDir: path.join(config.dataDir, 'pglite'),
  });
  log.info({ database: database.kind }, 'registry database ready (migrations applied)');
  const artifacts = createLocalArtifactStore(config.artifactsDir);
  const deps: ActivityDeps = {
    db: database.db,
    artifacts,
    trainers: { 'builtin-logreg': createBuiltinLogRegTrainer() },
    gateway: createGateway({ db: database.db, artifacts }),
    codeVersion: detectCodeVersion(),
    log,
  };
  return { database, deps };
}

export type WorkerRole = 'control' | 'train';

/**
 * One Temporal worker per role: `control` runs the workflows and the quick
 * activities on the control queue; `train` runs only training, so GPU
 * machines can poll the training queue alone.
 */
export async function createCtWorkers(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueues: Config['taskQueues'];
  deps: ActivityDeps;
  roles: readonly WorkerRole[];
  workflowBundle?: WorkerOptions['workflowBundle'];
}): Promise<Worker[]> {
  const activities = createActivities(opts.deps);
  const workers: Worker[] = [];
  if (opts.roles.includes('control')) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: opts.taskQueues.control,
        activities,
        ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
      }),
    );
  }
  if (opts.roles.includes('train')) {
    const { trainCandidate } = activities;
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: opts.taskQueues.train,
        activities: { trainCandidate },
        // Training is CPU-heavy; one at a time per worker keeps heartbeats timely.
        maxConcurrentActivityTaskExecutions: 1,
        // The SDK buffers heartbeats (by default up to 80 % of the heartbeat timeout). A checkpoint
        // only counts once the server has its heartbeat, so flush at least every second: the work
        // lost with a worker is then at most one checkpoint interval plus about a second.
        maxHeartbeatThrottleInterval: '1 second',
        defaultHeartbeatThrottleInterval: '1 second',
      }),
    );
  }
  return workers;
}

/** Entry point body shared by workers/control.ts, workers/train.ts and workers/all.ts. */
export async function runWorkerProcess(config: Config, roles: readonly WorkerRole[]): Promise<void> {
  installSdkLogging(config);
  const log = createLogger(config, `ctloop-worker-${roles.join('+')}`);
  const { database, deps } = await openRuntime(config, log);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const workers = await createCtWorkers({
    connection,
    namespace: config.temporal.namespace,
    taskQueues: config.taskQueues,
    deps,
    roles,
  });
  log.info(
    { temporal: config.temporal.address, queues: workers.map((w) => w.options.taskQueue) },
    'worker polling',
  );
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await connection.close();
    await database.close();
  }
}
