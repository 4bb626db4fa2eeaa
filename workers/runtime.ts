import { execFileSync } from 'node:child_process';
import { Client } from '@temporalio/client';
import {
  DefaultLogger,
  type LogLevel,
  type NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import type { Logger } from 'pino';
import { type Activities, type ActivityDeps, createActivities } from '../activities';
import { createApp } from '../api/app';
import { createSessionKeeper } from '../api/pages/session';
import { loadIdentities } from '../auth/identities';
import type { Config } from '../config/env';
import type { Database } from '../db/client';
import { createMlflowRegistry } from '../integrations/mlflow';
import { startMlflowPoller } from '../integrations/mlflow-poller';
import { createGateway } from '../serving/gateway';
import { startPredictionPruner } from '../serving/prediction-retention';
import { createLocalArtifactStore } from '../storage/artifact-store';
import { createTrainerRegistry } from '../trainers/registry';
import { startTriggerReconciler } from '../triggers/reconcile-triggers';
import { submitTrigger } from '../triggers/submit-trigger';
import { watchTaskQueue } from '../workflows/messages';
import type { runWorkflow } from '../workflows/run-workflow';
import {
  API_DB_CONNECT_TIMEOUT_MS,
  createLogger,
  createServingGateway,
  keepRunningOnUnhandledRejection,
  openRegistryDatabase,
  v2ServerOf,
} from './base-runtime';
import { connectWorkerToTemporal, lazyTemporalConnection } from './temporal-connection';

import { bundleWorkflowsInChild, workflowsPath } from './workflow-bundle';

export {
  API_DB_CONNECT_TIMEOUT_MS,
  createLogger,
  createServingGateway,
  keepRunningOnUnhandledRejection,
  openRegistryDatabase,
  workflowsPath,
};

type RunWorkflow = typeof runWorkflow;

const sdkLevels: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

let sdkRuntimeInstalled = false;

/**
 * Workflow-task latencies are milliseconds where ctloop is healthy (a trigger
 * waits for one), so their histograms get finer buckets than the SDK's.
 */
const WORKFLOW_TASK_BUCKETS_MS = [1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1_000, 2_500, 10_000];

/**
 * The Temporal SDK's runtime, before any worker, once per process: it logs at
 * ctloop's level, and with `CTLOOP_WORKER_METRICS` serves its Prometheus
 * metrics (docs/metrics.md) at http://<address>/metrics.
 */
export function installSdkRuntime(
  config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'workerMetricsAddress'>>,
): void {
  if (sdkRuntimeInstalled) return;
  const logger = new DefaultLogger(sdkLevels[config.logLevel] ?? 'INFO');
  const address = config.workerMetricsAddress;
  if (address === undefined) {
    Runtime.install({ logger });
  } else {
    const prometheus = {
      bindAddress: address,
      histogramBucketOverrides: {
        workflow_task_schedule_to_start_latency: WORKFLOW_TASK_BUCKETS_MS,
        workflow_task_execution_latency: WORKFLOW_TASK_BUCKETS_MS,
      },
    };
    try {
      Runtime.install({ logger, telemetryOptions: { metrics: { prometheus } } });
    } catch (err) {
      // A port in use, an address not of this host: say which setting to change.
      throw new Error(`ctloop: CTLOOP_WORKER_METRICS ${address}: ${(err as Error).message}`);
    }
  }
  sdkRuntimeInstalled = true;
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
  device: ActivityDeps['device'] = 'cpu',
  opts: { connectTimeoutMs?: number } = {},
): Promise<{ database: Database; deps: ActivityDeps }> {
  const database = await openRegistryDatabase(config, log, opts);
  const artifacts = createLocalArtifactStore(config.artifactsDir);
  const { trainers, notes } = createTrainerRegistry({ python: config.trainerPython, extra: config.trainers });
  for (const note of notes) log.warn(note);
  const v2Server = v2ServerOf(config);
  const deps: ActivityDeps = {
    db: database.db,
    v2Server,
    mlflow: config.mlflowUri ? createMlflowRegistry({ uri: config.mlflowUri }) : undefined,
    artifacts,
    trainers,
    gateway: createGateway({ db: database.db, artifacts, v2Server }),
    codeVersion: detectCodeVersion(),
    device,
    log,
    identities: loadIdentities(config.auth),
    webhooks: config.webhooks,
  };
  if (deps.identities.size === 0) {
    log.warn(
      'no API tokens configured (CTLOOP_TOKENS_FILE, CTLOOP_TOKENS): every API call will be refused with 401',
    );
  }
  return { database, deps };
}

export type WorkerRole = 'control' | 'train' | 'train-gpu';

/**
 * Watches one control worker runs at once. A watch sleeps between polls (a
 * query every few seconds), so thousands cost little; beyond this, further
 * watches wait on the queue for a slot (here or on another control worker).
 */
const WATCH_SLOTS = 2_000;

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
  /** The control worker's maxCachedWorkflows (config `CTLOOP_WORKFLOW_CACHE`); the SDK's default when unset. */
  workflowCache?: number;
  /** Tests wrap the real activities (e.g. to inject failures); production passes nothing. */
  wrapActivities?: (activities: Activities) => Activities;
  /** The control queue's activity slots (the SDK's default, 100, when unset); tests make it tiny. */
  controlActivitySlots?: number;
}): Promise<Worker[]> {
  const real = createActivities(opts.deps);
  const activities = opts.wrapActivities ? opts.wrapActivities(real) : real;
  const workers: Worker[] = [];
  if (opts.roles.includes('control')) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: opts.taskQueues.control,
        activities,
        ...(opts.workflowCache === undefined ? {} : { maxCachedWorkflows: opts.workflowCache }),
        ...(opts.controlActivitySlots === undefined
          ? {}
          : { maxConcurrentActivityTaskExecutions: opts.controlActivitySlots }),
        ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
      }),
    );
    // The long-lived watches (canary and bake, a carried run's end) on a queue of their own:
    // they hold a slot each while sleeping, so they get slots enough for every run at once.
    const { watchRollout, awaitRunEnd } = activities;
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: watchTaskQueue(opts.taskQueues.control),
        activities: { watchRollout, awaitRunEnd },
        maxConcurrentActivityTaskExecutions: WATCH_SLOTS,
      }),
    );
  }
  for (const role of (['train', 'train-gpu'] as const).filter((r) => opts.roles.includes(r))) {
    const { trainCandidate } = activities;
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: role === 'train' ? opts.taskQueues.train : opts.taskQueues.gpuTrain,
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

/** Lists the GPUs this machine really has (`nvidia-smi -L`). */
export function detectGpus(): { ok: true; devices: string[] } | { ok: false; reason: string } {
  try {
    const out = execFileSync('nvidia-smi', ['-L'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 })
      .toString()
      .trim();
    const devices = out.split('\n').filter((line) => /^GPU \d+/.test(line));
    return devices.length > 0
      ? { ok: true, devices }
      : { ok: false, reason: `nvidia-smi -L listed no GPU: ${out}` };
  } catch (err) {
    return { ok: false, reason: `nvidia-smi -L failed: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** Lets activities trigger runs (drift reports) through the same path as the API. */
export function withTriggers(
  deps: ActivityDeps,
  temporal: Client,
  taskQueues: Config['taskQueues'],
): ActivityDeps {
  return {
    ...deps,
    submitTrigger: (model, request) => submitTrigger({ db: deps.db, temporal, taskQueues }, model, request),
    runWorkflowResult: (workflowId) => temporal.workflow.getHandle<RunWorkflow>(workflowId).result(),
  };
}

/** Entry point body shared by workers/control.ts, workers/train.ts and workers/all.ts. */
export async function runWorkerProcess(config: Config, roles: readonly WorkerRole[]): Promise<void> {
  installSdkRuntime(config);
  const log = createLogger(config, `ctloop-worker-${roles.join('+')}`);
  let device: ActivityDeps['device'] = 'cpu';
  if (roles.includes('train-gpu')) {
    // A GPU worker that cannot see a GPU would take GPU jobs and run them slowly on CPU: refuse to start.
    const gpus = detectGpus();
    if (!gpus.ok) throw new Error(`this GPU training worker sees no GPU: ${gpus.reason}`);
    log.info({ gpus: gpus.devices }, `GPU check passed: ${gpus.devices.join('; ')}`);
    device = 'cuda';
  }
  keepRunningOnUnhandledRejection(log);
  const { database, deps: baseDeps } = await openRuntime(config, log, device);
  const clientConnection = lazyTemporalConnection(config.temporal.address);
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  const deps = withTriggers(baseDeps, client, config.taskQueues);
  // Control processes deliver triggers whose fate was never stored (their API process died meanwhile).
  const reconciler = roles.includes('control')
    ? startTriggerReconciler({ db: deps.db, temporal: client, taskQueues: config.taskQueues }, log)
    : null;
  // And they delete raw predictions past each model's retention.
  const pruner = roles.includes('control') ? startPredictionPruner(deps.db, log) : null;
  // And, without MLflow's webhook, they look for versions registered in MLflow by other training jobs.
  const mlflowPoller =
    roles.includes('control') && deps.mlflow && deps.submitTrigger && config.mlflowPollSeconds > 0
      ? startMlflowPoller(
          { db: deps.db, mlflow: deps.mlflow, submitTrigger: deps.submitTrigger },
          log,
          config.mlflowPollSeconds * 1000,
        )
      : null;
  const connection = await connectWorkerToTemporal(config.temporal.address, log);
  const workers = await createCtWorkers({
    connection,
    namespace: config.temporal.namespace,
    taskQueues: config.taskQueues,
    deps,
    roles,
    workflowCache: config.workflowCache,
    ...(roles.includes('control') ? { workflowBundle: await bundleWorkflowsInChild(log) } : {}),
  });
  log.info(
    { temporal: config.temporal.address, queues: workers.map((w) => w.options.taskQueue) },
    'worker polling',
  );
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await reconciler?.stop();
    await pruner?.stop();
    await mlflowPoller?.stop();
    await connection.close();
    await clientConnection.close();
    await database.close();
  }
}

/**
 * The API (and its serving gateway) from the runtime's dependencies. The API
 * serves predictions, so its gateway reports each one to the process's
 * metrics and records them in batches; the workers' gateway only steers
 * routing. Call `flushPredictions()` on shutdown, before the database closes,
 * so the predictions still buffered are written.
 */
export function createApiApp(config: Config, deps: ActivityDeps, temporal: Client, log: Logger) {
  const { metrics, gateway, flushPredictions } = createServingGateway(deps, log);
  const app = createApp({
    db: deps.db,
    temporal,
    gateway,
    taskQueues: config.taskQueues,
    log,
    identities: deps.identities,
    metrics,
    sessions: createSessionKeeper({ identities: deps.identities, secret: config.sessionSecret }),
    mlflowWebhookSecret: config.mlflowWebhookSecret,
  });
  return { app, flushPredictions };
}
