import { OpenAPIHono } from '@hono/zod-openapi';
import { createMetrics, metricsEndpoint } from '../observability/metrics';
import { requireAuth } from './auth';
import { limitBodySize, rejectNulCharacters, requireJsonBody } from './body-guard';
import type { ApiDeps } from './deps';
import { createErrorHandler, errorBody, methodNotAllowed, validationHook } from './errors';
import { createHealthMonitor, databaseCheck, healthHandler, temporalCheck } from './health';
import { mlflowWebhookHandler } from './mlflow-webhook';
import { approvalPages } from './pages';
import { createSessionKeeper } from './pages/session';
import { approvalRoutes } from './routes/approvals';
import { driftReportRoutes } from './routes/drift-reports';
import { freezeRoutes } from './routes/freeze';
import { lineageRoutes } from './routes/lineage';
import { metricRoutes } from './routes/metrics';
import { modelRoutes } from './routes/models';
import { runRoutes } from './routes/runs';
import { scheduleRoutes } from './routes/schedules';
import { servingRoutes } from './routes/serving';
import { triggerRoutes } from './routes/triggers';

/** The HTTP API and serving gateway. Dependencies come in; nothing is built here. */
export function createApp(deps: ApiDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.onError(createErrorHandler(deps.log));
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
  const metrics = deps.metrics ?? createMetrics({ db: deps.db, log: deps.log });
  app.use('*', metrics.httpMetrics);

  // Answered from a state the checks refresh in the background (every second while probes ask).
  app.get(
    '/healthz',
    healthHandler(
      createHealthMonitor({ database: databaseCheck(deps.db), temporal: temporalCheck(deps.temporal) }),
    ),
  );

  // Prometheus scrapes without a token, like a probe; nothing secret is exposed (see docs/metrics.md).
  app.get('/metrics', metricsEndpoint(metrics));

  // MLflow's signed webhook: a version registered elsewhere becomes a `registry` trigger (no token; HMAC).
  app.post('/integrations/mlflow/webhook', mlflowWebhookHandler(deps, deps.mlflowWebhookSecret));

  // Everything under /v1 needs a token; /healthz, /metrics and /openapi.json stay open for probes and tooling.
  // A known path with a method it does not have is a 405 naming the allowed ones, before any token check.
  app.use('/v1/*', async (c, next) => {
    // The common case first (the path has this method), without listing every method of the path.
    if (hasMethod(c.req.method, c.req.path)) return next();
    const allowed = methodsOf(c.req.path);
    if (allowed.length === 0 || allowed.includes(c.req.method)) return next();
    return methodNotAllowed(c, allowed);
  });
  app.use('/v1/*', requireAuth(deps.identities));
  app.use('/v1/*', limitBodySize);
  app.use('/v1/*', requireJsonBody);
  app.use('/v1/*', rejectNulCharacters);
  // Chained, so that the app's type carries every route: the typed client (api/typed-client.ts) is derived from it.
  const routes = app
    .route('/v1', modelRoutes(deps))
    .route('/v1', triggerRoutes(deps))
    .route('/v1', runRoutes(deps))
    .route('/v1', servingRoutes(deps))
    .route('/v1', driftReportRoutes(deps))
    .route('/v1', approvalRoutes(deps))
    .route('/v1', lineageRoutes(deps))
    .route('/v1', scheduleRoutes(deps))
    .route('/v1', metricRoutes(deps))
    .route('/v1', freezeRoutes(deps));

  let patterns: { method: string; path: RegExp }[] | null = null;
  const routePatterns = () =>
    (patterns ??= routes.routes
      .filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/'))
      .map((r) => ({ method: r.method, path: new RegExp(`^${r.path.replace(/:[^/]+/g, '[^/]+')}$`) })));
  function hasMethod(method: string, requestPath: string): boolean {
    return routePatterns().some((p) => p.method === method && p.path.test(requestPath));
  }
  /** The methods the app has for a concrete path (HEAD with GET, as Hono answers it). */
  function methodsOf(requestPath: string): string[] {
    const methods = new Set(
      routePatterns()
        .filter((p) => p.path.test(requestPath))
        .map((p) => p.method),
    );
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  }

  // The approval pages: HTML for people, signed in with their API token (a session cookie, CSRF-checked forms).
  app.route(
    '/ui',
    approvalPages(deps, deps.sessions ?? createSessionKeeper({ identities: deps.identities })),
  );

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token (npm run token); its role decides what the call may do',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    security: [{ bearer: [] }],
    info: {
      title: 'ctloop',
      version: '0.1.0',
      description: 'Continuous training: triggers, runs, approvals, rollbacks and the serving gateway.',
    },
  });
  return routes;
}

export type App = ReturnType<typeof createApp>;
