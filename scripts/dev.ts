import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { runMain } from '../api/serve';
import { devTokensPath, issueDevTokens } from '../auth/dev-tokens';
import { loadConfig } from '../config/env';
import { startMlflowPoller } from '../integrations/mlflow-poller';
import { startPredictionPruner } from '../serving/prediction-retention';
import { startTriggerReconciler } from '../triggers/reconcile-triggers';
import {
  createApiApp,
  createCtWorkers,
  createLogger,
  installSdkRuntime,
  keepRunningOnUnhandledRejection,
  openRuntime,
  withTriggers,
} from '../workers/runtime';
import { temporalClientOptions } from '../workers/temporal-connection';
import { bundleWorkflowsInChild } from '../workers/workflow-bundle';
import { startDevServer, waitForTemporal } from './temporal-dev-server';

/**
 * `npm run dev`: the whole stack on one machine with the embedded default.
 * Starts (or reuses) a Temporal dev server whose state lives in the data
 * folder, opens the registry (PGlite unless DATABASE_URL), and runs the
 * control and training workers and the API in this one process (PGlite is
 * single-process).
 */
async function main() {
  const config = loadConfig();
  installSdkRuntime(config);
  const log = createLogger(config, 'ctloop-dev');
  mkdirSync(config.dataDir, { recursive: true });

  let stopTemporal: (() => Promise<void>) | null = null;
  let uiUrl = `http://localhost:${config.temporal.uiPort}`;
  try {
    await waitForTemporal(config.temporal.address, { timeoutMs: 1_000 });
    log.info({ address: config.temporal.address }, 'using the Temporal server already running');
  } catch {
    const [host, port] = config.temporal.address.split(':');
    if (host !== 'localhost' && host !== '127.0.0.1') {
      throw new Error(
        `no Temporal server at ${config.temporal.address}, and it is not local, so dev cannot start one`,
      );
    }
    const server = await startDevServer({
      port: Number(port),
      uiPort: config.temporal.uiPort,
      dbFilename: path.join(config.dataDir, 'temporal.db'),
    });
    stopTemporal = server.stop;
    uiUrl = server.uiUrl ?? uiUrl;
  }

  keepRunningOnUnhandledRejection(log);
  const { database, deps: baseDeps } = await openRuntime(config, log);
  const connection = await Connection.connect(temporalClientOptions(config.temporal.address));
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const deps = withTriggers(baseDeps, temporal, config.taskQueues);
  const workerConnection = await NativeConnection.connect({ address: config.temporal.address });
  const workers = await createCtWorkers({
    connection: workerConnection,
    namespace: config.temporal.namespace,
    taskQueues: config.taskQueues,
    deps,
    roles: ['control', 'train'],
    workflowCache: config.workflowCache,
    workflowBundle: await bundleWorkflowsInChild(log),
  });
  const running = Promise.all(workers.map((w) => w.run()));
  const reconciler = startTriggerReconciler({ db: deps.db, temporal, taskQueues: config.taskQueues }, log);
  const pruner = startPredictionPruner(deps.db, log);
  const mlflowPoller =
    deps.mlflow && deps.submitTrigger && config.mlflowPollSeconds > 0
      ? startMlflowPoller(
          { db: deps.db, mlflow: deps.mlflow, submitTrigger: deps.submitTrigger },
          log,
          config.mlflowPollSeconds * 1000,
        )
      : null;

  const tokens = issueDevTokens(deps.identities, config.dataDir);
  const { app, flushPredictions } = createApiApp(config, deps, temporal, log);
  const api = serve({ fetch: app.fetch, port: config.port });

  const where = {
    api: `http://localhost:${config.port}/v1`,
    openapi: `http://localhost:${config.port}/openapi.json`,
    health: `http://localhost:${config.port}/healthz`,
    metrics: `http://localhost:${config.port}/metrics`,
    approvals: `http://localhost:${config.port}/ui (sign in with a token below)`,
    temporalUi: uiUrl,
    temporal: config.temporal.address,
    database:
      database.kind === 'pglite'
        ? `PGlite at ${path.join(config.dataDir, 'pglite')}`
        : 'Postgres (DATABASE_URL)',
    artifacts: config.artifactsDir,
    taskQueues: `${config.taskQueues.control} (control), ${config.taskQueues.train} (training)`,
  };
  console.log(
    `\nctloop is running\n${Object.entries(where)
      .map(([k, v]) => `  ${k.padEnd(11)} ${v}`)
      .join(
        '\n',
      )}\n\nDevelopment tokens (new at every start; also in ${devTokensPath(config.dataDir)}):\n${Object.entries(
      tokens,
    )
      .map(([name, token]) => `  ${name.padEnd(13)} ${token}`)
      .join(
        '\n',
      )}\n  e.g. curl -H "Authorization: Bearer ${tokens['dev-admin']}" ${where.api}/models\n\nTry it: npm run demo   (Ctrl-C stops everything)\n`,
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log.info('stopping');
    api.close();
    await flushPredictions();
    await reconciler.stop();
    await pruner.stop();
    await mlflowPoller?.stop();
    // The SDK's runtime may already be draining them on the same signal; shutdown() throws then.
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running.catch(() => {});
    await Promise.all([workerConnection.close(), connection.close()]);
    await database.close();
    await stopTemporal?.();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

runMain(main);
