import { serve } from '@hono/node-server';
import { Client } from '@temporalio/client';
import { loadConfig } from '../config/env';
import {
  API_DB_CONNECT_TIMEOUT_MS,
  createApiApp,
  createLogger,
  keepRunningOnUnhandledRejection,
  openRuntime,
} from '../workers/runtime';
import { lazyTemporalConnection } from '../workers/temporal-connection';

/** The API process: configuration → database, Temporal client, gateway → Hono on PORT. */
async function main() {
  const config = loadConfig();
  const log = createLogger(config, 'ctloop-api');
  keepRunningOnUnhandledRejection(log);
  const { database, deps } = await openRuntime(config, log, 'cpu', {
    connectTimeoutMs: API_DB_CONNECT_TIMEOUT_MS,
  });
  // Lazy: the API serves (and /healthz says Temporal is down) before Temporal is up.
  const connection = lazyTemporalConnection(config.temporal.address);
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const { app, flushPredictions } = createApiApp(config, deps, temporal, log);
  const server = serve({ fetch: app.fetch, port: config.port }, (info) => {
    log.info({ url: `http://localhost:${info.port}` }, 'ctloop API listening');
  });
  const stop = async () => {
    server.close();
    // Predictions answered but still buffered are written before the database closes.
    await flushPredictions();
    await connection.close().catch(() => {});
    await database.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
