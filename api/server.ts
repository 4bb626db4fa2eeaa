import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config/env';
import { createApiApp, createLogger, openRuntime } from '../workers/runtime';

/** The API process: configuration → database, Temporal client, gateway → Hono on PORT. */
async function main() {
  const config = loadConfig();
  const log = createLogger(config, 'ctloop-api');
  const { database, deps } = await openRuntime(config, log);
  const connection = await Connection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApiApp(config, deps, temporal, log);
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
