import { loadIdentities } from '../auth/identities';
import { loadConfig } from '../config/env';
import { createLocalArtifactStore } from '../storage/artifact-store';
import {
  API_DB_CONNECT_TIMEOUT_MS,
  createLogger,
  createServingGateway,
  keepRunningOnUnhandledRejection,
  openRegistryDatabase,
  v2ServerOf,
} from '../workers/base-runtime';
import { createGatewayApp } from './gateway-app';
import { createHealthMonitor, databaseCheck } from './health';
import { runMain, serveUntilSignal } from './serve';

/**
 * The serving gateway as its own process (`npm run gateway`): predict and
 * feedback on PORT, beside the API and the workers, as many replicas as the
 * traffic needs. It shares the registry database with them (Postgres only:
 * PGlite is one process, and `npm run dev` serves predictions itself) and
 * needs no Temporal.
 */
async function main() {
  const config = loadConfig();
  const log = createLogger(config, 'ctloop-gateway');
  if (!config.databaseUrl) {
    console.error(
      'npm run gateway needs DATABASE_URL (Postgres): the gateway shares the registry with the API and the workers, and the embedded database serves one process only (npm run dev serves predictions itself)',
    );
    process.exit(2);
  }
  keepRunningOnUnhandledRejection(log);
  const database = await openRegistryDatabase(config, log, { connectTimeoutMs: API_DB_CONNECT_TIMEOUT_MS });
  const identities = loadIdentities(config.auth);
  if (identities.size === 0)
    log.warn(
      'no API tokens configured (CTLOOP_TOKENS_FILE, CTLOOP_TOKENS): every call will be refused with 401',
    );
  const { metrics, gateway, flushPredictions } = createServingGateway(
    {
      db: database.db,
      artifacts: createLocalArtifactStore(config.artifactsDir),
      v2Server: v2ServerOf(config),
    },
    log,
    // The API exports the pipeline's series; a replica exports its own serving and process ones.
    { pipelineMetrics: false },
  );
  const app = createGatewayApp({
    db: database.db,
    gateway,
    identities,
    log,
    metrics,
    health: createHealthMonitor({ database: databaseCheck(database.db) }),
  });
  serveUntilSignal({
    app,
    port: config.port,
    log,
    what: 'gateway',
    async drain() {
      // Predictions answered but still buffered are written before the database closes.
      await flushPredictions();
      await database.close().catch(() => {});
    },
  });
}

runMain(main);
