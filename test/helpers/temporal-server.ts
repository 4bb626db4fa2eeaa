/**
 * A real Temporal dev server for the tests (used from vitest globalSetup).
 * The CLI comes from scripts/ensure-temporal; flags and readiness checks are
 * shared with `npm run dev` in scripts/temporal-dev-server.ts.
 */
import { startDevServer } from '../../scripts/temporal-dev-server';

export {
  devServerArgs,
  ensureTemporalCli,
  SEARCH_ATTRIBUTES,
  waitForTemporal,
} from '../../scripts/temporal-dev-server';

export interface TemporalDevServerOptions {
  /** gRPC port; default: a free port. */
  port?: number;
  /** Web UI port; giving one turns the UI on. */
  uiPort?: number;
  /** SQLite file for state; default in-memory. */
  dbFilename?: string;
  /** Default: true unless uiPort is given (tests rarely need the UI). */
  headless?: boolean;
  /** Namespace to create and wait for (default "default"). */
  namespace?: string;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** Forward the server's output to stderr (also when CTLOOP_TEMPORAL_LOG=1). */
  verbose?: boolean;
}

export interface TemporalDevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(
  opts: TemporalDevServerOptions = {},
): Promise<TemporalDevServer> {
  const verbose = opts.verbose ?? process.env.CTLOOP_TEMPORAL_LOG === '1';
  const server = await startDevServer({
    port: opts.port,
    uiPort: opts.uiPort,
    dbFilename: opts.dbFilename,
    headless: opts.headless ?? opts.uiPort === undefined,
    namespace: opts.namespace,
    readyTimeoutMs: opts.readyTimeoutMs,
    onOutput: verbose ? (chunk) => process.stderr.write(`[temporal] ${chunk}`) : undefined,
  });
  return { address: server.address, namespace: server.namespace, uiUrl: server.uiUrl, stop: server.stop };
}
