import { type Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { IdentityRegistry } from '../auth/identities';
import type { Db } from '../db/client';
import { can } from '../domain/roles';
import { type CtMetrics, metricsEndpoint } from '../observability/metrics';
import type { Gateway } from '../serving/gateway';
import { BEARER, requireAuth } from './auth';
import { limitBodySize, MAX_BODY_BYTES, rejectNulCharacters, requireJsonBody } from './body-guard';
import { ApiError, createErrorHandler, errorBody, methodNotAllowed, validationHook } from './errors';
import { type HealthMonitor, healthHandler } from './health';
import { recordFeedback, servePrediction } from './routes/serving';
import { FeedbackBody, MODEL_NAME, ModelParam, PredictBody, quickPredictBody } from './schemas';

export interface GatewayAppDeps {
  readonly db: Db;
  readonly gateway: Gateway;
  readonly identities: IdentityRegistry;
  readonly log: Logger;
  readonly metrics: CtMetrics;
  readonly health: HealthMonitor;
}

const ROUTES = ['/v1/models/:model/predict', '/v1/models/:model/feedback'] as const;

/**
 * The serving gateway on its own (`npm run gateway`, api/gateway-server.ts):
 * `predict` and `feedback` exactly as the API answers them (same tokens and
 * roles, same validation and error bodies, same recording), without the
 * rest of the API, its OpenAPI machinery or a Temporal client, so that it
 * can be scaled beside the API and the workers. Routing changes reach it
 * through the database within the serving cache's TTL.
 */
export function createGatewayApp(deps: GatewayAppDeps) {
  const app = new Hono();
  app.onError(createErrorHandler(deps.log));
  app.notFound((c) =>
    c.json(
      errorBody(
        'not_found',
        `no route for ${c.req.method} ${c.req.path}: this is the serving gateway (predict, feedback); the API serves the rest`,
      ),
      404,
    ),
  );
  app.get('/healthz', healthHandler(deps.health));
  app.get('/metrics', metricsEndpoint(deps.metrics));

  // As in the API: a known path with another method is a 405 naming the allowed one, before any token check.
  app.on(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], [...ROUTES], (c) =>
    methodNotAllowed(c, ['POST']),
  );
  // The hot path: a well-formed prediction from a caller who may read is served in one step.
  // Anything else (no or unknown token, another media type, a body the quick check does not
  // accept) goes on to the middleware and validation below, which answer exactly as the API does.
  app.post(ROUTES[0], async (c, next) => {
    const model = c.req.param('model');
    if (!MODEL_NAME.test(model) || !mayRead(deps.identities, c.req.header('authorization'))) return next();
    if (!JSON_MEDIA_TYPE.test(c.req.header('content-type') ?? '')) return next();
    const length = c.req.header('content-length');
    if (length === undefined || !(Number(length) <= MAX_BODY_BYTES)) return next();
    let body: z.output<typeof PredictBody> | null;
    try {
      body = quickPredictBody(await c.req.json());
    } catch {
      body = null;
    }
    if (!body) return next();
    return c.json(await servePrediction(deps, model, body), 200);
  });
  app.use('/v1/*', requireAuth(deps.identities), limitBodySize, requireJsonBody, rejectNulCharacters);

  const post = <S extends z.ZodType>(
    route: (typeof ROUTES)[number],
    schema: S,
    handle: (model: string, body: z.output<S>) => Promise<object>,
  ) =>
    app.post(route, async (c) => {
      const params = valid(c, ModelParam, c.req.param(), 'param');
      if (params instanceof Response) return params;
      const body = valid(c, schema, await jsonOf(c), 'json');
      if (body instanceof Response) return body;
      return c.json(await handle(params.model, body), 200);
    });
  post(ROUTES[0], PredictBody, (model, body) => servePrediction(deps, model, body));
  post(ROUTES[1], FeedbackBody, (model, body) => recordFeedback(deps, model, body));
  return app;
}

/** Whether an Authorization header carries a known token whose role may read (predict's permission). */
function mayRead(identities: IdentityRegistry, header: string | undefined): boolean {
  if (header === undefined) return false;
  const token = BEARER.exec(header)?.[1];
  const identity = token === undefined ? null : identities.authenticate(token);
  return identity !== null && can(identity.role, 'read');
}

/** A JSON media type, with parameters (as the API's OpenAPI routes accept). */
const JSON_MEDIA_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

/** The request's JSON body; a body of another media type is a 415, as the API answers it. */
async function jsonOf(c: Context): Promise<unknown> {
  if (!JSON_MEDIA_TYPE.test(c.req.header('content-type') ?? ''))
    throw new HTTPException(415, { message: 'Unsupported Media Type' });
  try {
    return await c.req.json();
  } catch {
    throw new ApiError(400, 'invalid_request', 'Malformed JSON in request body');
  }
}

/** A value checked against the API's own schema, or the API's 400 for it. */
function valid<T extends z.ZodType>(
  c: Context,
  schema: T,
  value: unknown,
  target: 'param' | 'json',
): z.output<T> | Response {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  return validationHook({ success: false, error: parsed.error, target }, c)!;
}
