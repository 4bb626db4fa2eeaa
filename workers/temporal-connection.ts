import {
  Connection,
  type ConnectionOptions,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
} from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Logger } from 'pino';

/**
 * How ctloop's processes talk to Temporal when it is down or coming back.
 *
 * The SDK's defaults retry a failed call up to 10 times with backoff growing
 * to 5 s (about 20 s in all), and grpc-js backs off reconnecting up to 2
 * minutes. While Temporal was down every API call touching it hung ~20 s,
 * and after it came back the API stayed degraded for ~27 s. Here a call is
 * retried for about a quarter of a second (enough for a connection reset, not for an
 * outage: the caller gets 503 `temporal_unavailable` and retries itself), and
 * the channel tries to reconnect at least every second, so service resumes
 * about a second after the server does.
 */
export function temporalClientOptions(address: string): ConnectionOptions {
  return {
    address,
    // three attempts, 100 and 170 ms apart (±20 % jitter)
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 3 }))],
    channelArgs: {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.min_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
    },
    connectTimeout: '5 seconds',
  };
}

/**
 * A client connection that does not need the server yet: the API starts (and
 * reports `temporal` as down in /healthz) while Temporal is still starting.
 */
export function lazyTemporalConnection(address: string): Connection {
  return Connection.lazy(temporalClientOptions(address));
}

/**
 * The workers' connection (the SDK's core needs a reachable server to
 * start): tried until it answers, so processes can start in any order.
 */
export async function connectWorkerToTemporal(address: string, log: Logger): Promise<NativeConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await NativeConnection.connect({ address });
    } catch (err) {
      const delayMs = Math.min(5_000, 250 * 2 ** Math.min(attempt - 1, 5));
      log.warn(
        { temporal: address, attempt, retryInMs: delayMs, reason: (err as Error).message?.split('\n')[0] },
        'Temporal not reachable yet; retrying',
      );
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
