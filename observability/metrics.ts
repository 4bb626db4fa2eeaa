import type { Handler, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/client';
import type { PredictionObserver } from '../serving/gateway';
import { registerPipelineMetrics } from './pipeline-metrics';

/**
 * ctloop's Prometheus metrics, as served by the API process at `/metrics`.
 *
 * Two kinds live here. The CT loop's own (triggers, runs, freshness, canary
 * share, rollbacks) are read from the registry database at scrape time, see
 * pipeline-metrics.ts. What happens inside the API process itself is
 * counted in memory: predictions served by the gateway (which the API
 * hosts) and the API's HTTP request durations. Those reset when the process
 * restarts, as Prometheus expects of in-process counters.
 */
export interface CtMetrics {
  readonly registry: Registry;
  /** Hand to `createGateway({ observe })`: counts and times each prediction it records. */
  readonly observePrediction: PredictionObserver;
  /** Hono middleware timing every API request by route pattern. */
  readonly httpMetrics: MiddlewareHandler;
  /** The exposition text and its content type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Seconds; a prediction is a registry lookup plus a small model, so mostly well under 100 ms. */
export const GATEWAY_LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function createMetrics(deps: {
  db: Db;
  log?: Logger;
  processMetrics?: boolean;
  /** The registry's pipeline series (runs, triggers, champions): the API's; off in gateway replicas, so they are not scraped twice. */
  pipelineMetrics?: boolean;
}): CtMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (deps.processMetrics !== false) collectDefaultMetrics({ register: registry });
  if (deps.pipelineMetrics !== false) registerPipelineMetrics(registry, deps);

  const gatewayLabels = ['model', 'version', 'role'] as const;
  const requests = new Counter({
    name: 'ctloop_gateway_requests_total',
    help: 'Predictions the serving gateway served in this process, by model version and role (champion or candidate)',
    labelNames: gatewayLabels,
    registers,
  });
  const errors = new Counter({
    name: 'ctloop_gateway_errors_total',
    help: 'Predictions that failed in this process (counted in ctloop_gateway_requests_total too)',
    labelNames: gatewayLabels,
    registers,
  });
  const latency = new Histogram({
    name: 'ctloop_gateway_latency_seconds',
    help: 'Time the gateway took to answer a prediction: version lookup, model and inference',
    labelNames: gatewayLabels,
    buckets: GATEWAY_LATENCY_BUCKETS,
    registers,
  });
  const http = new Histogram({
    name: 'ctloop_http_request_duration_seconds',
    help: 'API request duration by route pattern, method and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });

  // Each prediction's three series, looked up once per model version and role rather than by
  // hashing the labels on every request (only served versions reach here, so the map stays small).
  const seriesByKey = new Map<
    string,
    {
      requests: Counter.Internal;
      errors: Counter.Internal;
      latency: Histogram.Internal<string>;
    }
  >();
  const predictionSeries = (model: string, version: number, role: string) => {
    const key = `${model}\u0000${version}\u0000${role}`;
    let series = seriesByKey.get(key);
    if (!series) {
      const labels = { model, version: String(version), role };
      series = {
        requests: requests.labels(labels),
        errors: errors.labels(labels),
        latency: latency.labels(labels),
      };
      seriesByKey.set(key, series);
    }
    return series;
  };

  return {
    registry,
    observePrediction({ model, version, role, error, latencyMs }) {
      const series = predictionSeries(model, version, role);
      series.requests.inc();
      // The error series exists from the first request on, so an error ratio is 0 rather than missing.
      series.errors.inc(error ? 1 : 0);
      series.latency.observe(latencyMs / 1000);
    },
    async httpMetrics(c, next) {
      const started = performance.now();
      try {
        await next();
      } finally {
        const method = HTTP_METHODS.has(c.req.method) ? c.req.method : 'other';
        // The matched pattern (`/v1/models/:model/predict`), never the raw path, keeps the label set bounded.
        http.observe(
          { method, route: routePath(c, -1), status: String(c.res.status) },
          (performance.now() - started) / 1000,
        );
      }
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** `GET /metrics`: the exposition for Prometheus. */
export function metricsEndpoint(metrics: CtMetrics): Handler {
  return async (c) => {
    const { contentType, body } = await metrics.scrape();
    return c.body(body, 200, { 'content-type': contentType });
  };
}
