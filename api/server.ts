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
import { runMain, serveUntilSignal } from './serve';

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
  serveUntilSignal({
    app,
    port: config.port,
    log,
    what: 'API',
    async drain() {
      // Predictions answered but still buffered are written before the database closes.
      await flushPredictions();
      await connection.close().catch(() => {});
      await database.close().catch(() => {});
    },
  });
}

runMain(main);
