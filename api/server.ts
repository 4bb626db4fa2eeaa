import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config/env';
import { createMetrics } from '../observability/metrics';
import { createGateway } from '../serving/gateway';
import { createLogger, openRuntime } from '../workers/runtime';
import { createApp } from './app';

/** The API process: configuration → database, Temporal client, gateway → Hono on PORT. */
async function main() {
  const config = loadConfig();
  const log = createLogger(config, 'ctloop-api');
  const { database, deps } = await openRuntime(config, log);
  const connection = await Connection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  // The API serves predictions, so its gateway reports each one to the process's metrics.
  const metrics = createMetrics({ db: deps.db, log });
  const gateway = createGateway({
    db: deps.db,
    artifacts: deps.artifacts,
    observe: metrics.observePrediction,
  });
  const app = createApp({
    db: deps.db,
    temporal,
    gateway,
    taskQueues: config.taskQueues,
    log,
    identities: deps.identities,
    metrics,
  });
  const server = serve({ fetch: app.fetch, port: config.port }, (info) => {
    log.info({ url: `http://localhost:${info.port}` }, 'ctloop API listening');
  });
  const stop = () => {
    server.close();
    void connection.close().finally(() => database.close().finally(() => process.exit(0)));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
