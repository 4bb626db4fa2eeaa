import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import pino from 'pino';
import type { Activities, ActivityDeps } from '../../activities';
import type { WatchClock } from '../../activities/watch-clock';
import { createApp } from '../../api/app';
import { type Api, inProcessApi } from '../../api/client';
import {
  createIdentityRegistry,
  generateToken,
  hashToken,
  type IdentityRegistry,
} from '../../auth/identities';
import { type Database, openDatabase } from '../../db/client';
import type { Role } from '../../domain/roles';
import type { MlflowRegistry } from '../../integrations/mlflow';
import { createMetrics } from '../../observability/metrics';
import { createGateway } from '../../serving/gateway';
import type { V2Server } from '../../serving/v2-server';
import { createLocalArtifactStore } from '../../storage/artifact-store';
import { createTrainerRegistry } from '../../trainers/registry';
import type { Trainer } from '../../trainers/trainer';
import { createCtWorkers, installSdkRuntime, type WorkerRole, withTriggers } from '../../workers/runtime';

/**
 * Everything a test file needs, real: its own database (a fresh Postgres
 * database, or in-memory PGlite), its own artifact folder, the API, and
 * control + training workers on task queues of its own, against the shared
 * Temporal dev server.
 */
export interface Stack {
  readonly app: ReturnType<typeof createApp>;
  readonly client: Client;
  readonly database: Database;
  readonly deps: ActivityDeps;
  readonly artifactsDir: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly taskQueues: { control: string; train: string; gpuTrain: string };
  readonly temporalAddress: string;
  /** The API as one of TEST_IDENTITIES (default admin). */
  api(as?: TestIdentity): Api;
  readonly tokens: Record<TestIdentity, string>;
  /** Starts the in-process workers (tests of worker loss run their own worker process instead). */
  startWorkers(roles?: readonly WorkerRole[]): Promise<void>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

/** The shared services a stack runs against (vitest's globalSetup provides them; benchmarks start their own). */
export interface Services {
  readonly temporalAddress: string;
  /** A Postgres server URL, or '' for in-memory PGlite. */
  readonly postgresUrl: string;
  readonly workflowBundlePath: string;
  readonly trainerPython: string;
}

export interface StackOptions {
  workers?: boolean;
  extraTrainers?: Record<string, string[]>;
  /** In-process trainers beside the registry's, by name (a benchmark's reference implementation). */
  inProcessTrainers?: Readonly<Record<string, Trainer>>;
  /** Webhook receivers for approval notifications. */
  webhooks?: string[];
  webhookSecret?: string;
  /** Wraps the control and training workers' activities (fault injection). */
  wrapActivities?: (activities: Activities) => Activities;
  /** The control queue's activity slots (the SDK's default when unset). */
  controlActivitySlots?: number;
  /**
   * A Temporal client and worker connection made elsewhere (the time-skipping test environment's,
   * whose client skips time while a result is awaited); the stack uses them and leaves them open.
   */
  temporal?: { readonly client: Client; readonly workerConnection: NativeConnection };
  /** The clock rollout watches read and wait on (the time-skipping server's, in those tests). */
  watchClock?: WatchClock;
  /** An external V2 model server (a real MLServer in test/e2e/v2-server.test.ts). */
  v2Server?: V2Server;
  /** An MLflow Model Registry (a real `mlflow server` in test/e2e/mlflow.test.ts). */
  mlflow?: MlflowRegistry;
  /** The secret of MLflow's webhook (POST /integrations/mlflow/webhook). */
  mlflowWebhookSecret?: string;
}

/**
 * The people and monitors of the test stack, each with a token of its own
 * (`stack.api(name)` calls as them).
 */
export const TEST_IDENTITIES = {
  admin: { role: 'admin', groups: [] },
  dana: { role: 'admin', groups: [] },
  alice: { role: 'approver', groups: ['ml-reviewers'] },
  bob: { role: 'approver', groups: ['ml-reviewers'] },
  carol: { role: 'approver', groups: ['ml-leads'] },
  olga: { role: 'operator', groups: [] },
  monitor: { role: 'trigger', groups: [] },
  vera: { role: 'viewer', groups: [] },
} as const satisfies Record<string, { role: Role; groups: readonly string[] }>;
export type TestIdentity = keyof typeof TEST_IDENTITIES;

export function testIdentities(): { identities: IdentityRegistry; tokens: Record<TestIdentity, string> } {
  const identities = createIdentityRegistry();
  const tokens = {} as Record<TestIdentity, string>;
  for (const [name, who] of Object.entries(TEST_IDENTITIES) as [
    TestIdentity,
    (typeof TEST_IDENTITIES)[TestIdentity],
  ][]) {
    tokens[name] = generateToken();
    identities.add({ name, role: who.role, groups: [...who.groups], sha256: hashToken(tokens[name]) });
  }
  return { identities, tokens };
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const { inject } = await import('vitest');
  return startStackWith(
    {
      temporalAddress: inject('temporalAddress'),
      postgresUrl: inject('postgresUrl'),
      workflowBundlePath: inject('workflowBundlePath'),
      trainerPython: inject('trainerPython'),
    },
    opts,
  );
}

export async function startStackWith(services: Services, opts: StackOptions = {}): Promise<Stack> {
  // Keep the SDK's core logs out of the test output except for real problems.
  installSdkRuntime({ logLevel: 'warn' });
  const { temporalAddress, postgresUrl } = services;
  const suffix = randomUUID().slice(0, 8);
  let dropDatabase: (() => Promise<void>) | null = null;
  let databaseUrl: string | undefined;
  if (postgresUrl) {
    const { createTestDatabase } = await import('./postgres');
    const created = await createTestDatabase(postgresUrl, `ctloop_test_${suffix}`);
    databaseUrl = created.url;
    dropDatabase = created.drop;
  }
  const database = await openDatabase({ url: databaseUrl });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctloop-test-'));
  const artifactsDir = path.join(dataDir, 'artifacts');
  const artifacts = createLocalArtifactStore(artifactsDir);
  const log = pino({ level: process.env.CTLOOP_TEST_LOG ?? 'warn' });
  const metrics = createMetrics({ db: database.db, log });
  const gateway = createGateway({
    db: database.db,
    artifacts,
    observe: metrics.observePrediction,
    v2Server: opts.v2Server,
  });
  const { identities, tokens } = testIdentities();
  const baseDeps: ActivityDeps = {
    db: database.db,
    artifacts,
    trainers: {
      ...createTrainerRegistry({ python: services.trainerPython, extra: opts.extraTrainers }).trainers,
      ...opts.inProcessTrainers,
    },
    gateway,
    codeVersion: 'test',
    device: 'cpu',
    log,
    identities,
    webhooks: { urls: opts.webhooks ?? [], secret: opts.webhookSecret },
    watchClock: opts.watchClock,
    v2Server: opts.v2Server,
    mlflow: opts.mlflow,
  };
  const taskQueues = {
    control: `ct-${suffix}`,
    train: `ct-train-${suffix}`,
    gpuTrain: `ct-train-gpu-${suffix}`,
  };
  const connection = opts.temporal ? null : await Connection.connect({ address: temporalAddress });
  const client = opts.temporal?.client ?? new Client({ connection: connection! });
  const deps = withTriggers(baseDeps, client, taskQueues);
  const app = createApp({
    db: database.db,
    temporal: client,
    gateway,
    taskQueues,
    log,
    identities,
    metrics,
    mlflowWebhookSecret: opts.mlflowWebhookSecret,
  });

  let workerConnection: NativeConnection | null = opts.temporal?.workerConnection ?? null;
  let workers: Worker[] = [];
  let running: Promise<unknown> | null = null;

  const stack: Stack = {
    app,
    client,
    database,
    deps,
    artifactsDir,
    dataDir,
    databaseUrl,
    taskQueues,
    temporalAddress,
    api: (as = 'admin') => inProcessApi(app, tokens[as]),
    tokens,
    async startWorkers(roles = ['control', 'train'] as const) {
      workerConnection ??= await NativeConnection.connect({ address: temporalAddress });
      workers = await createCtWorkers({
        connection: workerConnection,
        namespace: 'default',
        taskQueues,
        deps,
        roles,
        workflowBundle: { codePath: services.workflowBundlePath },
        wrapActivities: opts.wrapActivities,
        controlActivitySlots: opts.controlActivitySlots,
      });
      running = Promise.all(workers.map((w) => w.run()));
    },
    async stopWorkers() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      workers = [];
      running = null;
    },
    async close() {
      await stack.stopWorkers();
      // Terminate this file's workflows so they do not outlive it on the shared server.
      await terminateAll(client, taskQueues.control);
      if (!opts.temporal) await workerConnection?.close();
      await connection?.close();
      await gateway.close();
      await database.close();
      await dropDatabase?.();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (opts.workers !== false) await stack.startWorkers();
  return stack;
}

async function terminateAll(client: Client, taskQueue: string) {
  try {
    for await (const wf of client.workflow.list({
      query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
    })) {
      await client.workflow
        .getHandle(wf.workflowId, wf.runId)
        .terminate('test file finished')
        .catch(() => {});
    }
  } catch {
    // listing needs visibility; nothing to clean up if it is unavailable
  }
}
