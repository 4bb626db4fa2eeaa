import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from 'pino';

/**
 * Serves `app` on `port` (logging `ctloop <what> listening`) until SIGINT or
 * SIGTERM; then stops taking connections, runs `drain` (write what is
 * buffered, close connections) and exits 0.
 */
export function serveUntilSignal(opts: {
  // biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its env and routes
  app: Hono<any, any, any>;
  port: number;
  log: Logger;
  what: string;
  drain(): Promise<void>;
}): void {
  const server = serve({ fetch: opts.app.fetch, port: opts.port }, (info) => {
    opts.log.info({ url: `http://localhost:${info.port}` }, `ctloop ${opts.what} listening`);
  });
  const stop = async () => {
    server.close();
    await opts.drain();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** A process's entry point: an error that escapes start-up is printed and the process exits 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
