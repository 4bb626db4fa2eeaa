import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { Config } from '../config/env';
import { type Database, openDatabase } from '../db/client';
import { describeDatabaseError, isDatabaseUnavailable } from '../db/errors';
import { createMetrics } from '../observability/metrics';
import { createGateway } from '../serving/gateway';
import { createV2Server, type V2Server } from '../serving/v2-server';
import type { ArtifactStore } from '../storage/artifact-store';

/**
 * What every ctloop process needs, and nothing that loads the Temporal SDK:
 * the serving gateway process (api/gateway-server.ts) starts from here alone;
 * workers/runtime.ts adds the workers and the API.
 */

export function createLogger(config: Pick<Config, 'logLevel'>, name: string): Logger {
  return pino({ name, level: config.logLevel });
}

/**
 * How long an API query waits for a database connection: a stopped database
 * refuses at once, a hung one is given up on well within a second, so the
 * caller gets 503 `database_unavailable` rather than a hang.
 */
export const API_DB_CONNECT_TIMEOUT_MS = 750;

/**
 * The registry database from configuration (Postgres, or PGlite in the data
 * folder), migrated; a server not up yet is waited for rather than exited on.
 */
export async function openRegistryDatabase(
  config: Config,
  log: Logger,
  opts: { connectTimeoutMs?: number } = {},
): Promise<Database> {
  const database = await openDatabase({
    url: config.databaseUrl,
    pgliteDir: path.join(config.dataDir, 'pglite'),
    connectTimeoutMs: opts.connectTimeoutMs,
    // Started before its database (docker-compose, a restarting server): wait for it rather than exit.
    waitForServer: {
      onRetry: (err, attempt, delayMs) =>
        log.warn(
          { attempt, retryInMs: delayMs, reason: describeDatabaseError(err) },
          'registry database not reachable yet; retrying',
        ),
    },
    onPoolError: (err) =>
      log.warn(
        { reason: describeDatabaseError(err) },
        'registry database connection lost; reconnecting on demand',
      ),
  });
  log.info({ database: database.kind }, 'registry database ready (migrations applied)');
  return database;
}

let rejectionHandlerInstalled = false;

/**
 * A promise rejected with nobody listening ends a Node process by default,
 * and with it every activity the worker is running (a training run lost its
 * worker to one write of a progress report while Postgres was down). Every
 * known background write catches its own errors; this is the net under them:
 * the rejection is logged as the bug it is, with its stack, and the process
 * goes on serving its task queues.
 */
export function keepRunningOnUnhandledRejection(log: Logger): void {
  if (rejectionHandlerInstalled) return;
  rejectionHandlerInstalled = true;
  process.on('unhandledRejection', (reason) => {
    log.error(
      { err: reason, databaseUnavailable: isDatabaseUnavailable(reason) },
      'unhandled promise rejection (a bug: every background task should handle its errors); the process keeps running',
    );
  });
}

/**
 * A gateway that serves predictions (the API's, or the gateway process's):
 * it reports each prediction to the process's metrics and records them in
 * batches, logging a failed flush. Call `flushPredictions()` on shutdown,
 * before the database closes, so the predictions still buffered are written.
 */
/** The external V2 model server the configuration names, if any. */
export function v2ServerOf(config: Config): V2Server | undefined {
  return config.v2 ? createV2Server(config.v2) : undefined;
}

export function createServingGateway(
  deps: { db: Database['db']; artifacts: ArtifactStore; v2Server?: V2Server },
  log: Logger,
  opts: { pipelineMetrics?: boolean } = {},
) {
  const metrics = createMetrics({ db: deps.db, log, pipelineMetrics: opts.pipelineMetrics });
  const gateway = createGateway({
    db: deps.db,
    artifacts: deps.artifacts,
    v2Server: deps.v2Server,
    observe: metrics.observePrediction,
    recording: {
      onFlushError: (err, attempt, retryInMs) =>
        log.warn(
          { attempt, retryInMs, reason: describeDatabaseError(err) },
          'could not write predictions; they stay buffered and are retried',
        ),
    },
  });
  const flushPredictions = async () => {
    const { unwritten } = await gateway.close();
    if (unwritten > 0) log.error({ unwritten }, 'predictions could not be written before shutdown');
  };
  return { metrics, gateway, flushPredictions };
}
