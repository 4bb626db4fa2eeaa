import { createRoute, z } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { auditEvents, modelVersions } from '../../db/schema';
import { GatewayError } from '../../serving/gateway';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import { createRouter } from '../router';
import {
  errors,
  FaultBody,
  FeedbackBody,
  jsonBody,
  jsonResponse,
  ModelParam,
  PredictBody,
  VersionParams,
  writeErrors,
} from '../schemas';

const Prediction = z
  .object({
    predictionId: z.uuid(),
    version: z.number().int().min(1),
    role: z.enum(['champion', 'candidate']),
    probability: z.number().min(0).max(1),
    label: z.union([z.literal(0), z.literal(1)]),
  })
  .openapi('Prediction');

import { requireModel } from './models';

const gatewayStatus = {
  no_model_served: 409,
  bad_features: 400,
  unknown_prediction: 404,
  model_error: 502,
  recording_backlog: 503,
} as const;

function fromGateway(err: unknown): never {
  if (err instanceof GatewayError)
    throw new ApiError(gatewayStatus[err.code], err.code, err.message, err.details);
  throw err;
}

/**
 * A validated predict request, served: shared by the API's route and the
 * gateway process (api/gateway-app.ts), so both answer alike.
 */
export function servePrediction(
  deps: Pick<ApiDeps, 'db' | 'gateway'>,
  model: string,
  body: z.output<typeof PredictBody>,
) {
  // No registry read on the hot path: a model with a routing exists; without one, say which it is.
  return deps.gateway.predict(model, body).catch(async (err: unknown) => {
    if (err instanceof GatewayError && err.code === 'no_model_served') await requireModel(deps, model);
    return fromGateway(err);
  });
}

/** A validated feedback request, recorded (the API's route and the gateway process). */
export async function recordFeedback(
  deps: Pick<ApiDeps, 'db' | 'gateway'>,
  model: string,
  { predictionId, label }: z.output<typeof FeedbackBody>,
) {
  await requireModel(deps, model);
  await deps.gateway.feedback(model, predictionId, label).catch(fromGateway);
  return { predictionId, label };
}

/** The serving gateway: predictions, ground-truth feedback, and fault injection for drills. */
export function servingRoutes(deps: ApiDeps) {
  const { db, gateway } = deps;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/predict',
        summary: 'Predict with the champion, or the canary candidate for its share of keys',
        request: { params: ModelParam, ...jsonBody(PredictBody) },
        responses: {
          200: jsonResponse('The prediction, with the version that served it', Prediction),
          ...errors(400, 401, 404, 413, 415),
          503: {
            ...errors(503)[503],
            description:
              'The database or Temporal is unavailable, or prediction recording is too far behind the database (`recording_backlog`); retry later',
          },
          409: {
            ...errors(409)[409],
            description: 'No version of the model is served yet (`no_model_served`)',
          },
          502: { ...errors(503)[503], description: 'The model version failed to answer (`model_error`)' },
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        return c.json(await servePrediction(deps, model, c.req.valid('json')), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/models/{model}/feedback',
        summary: 'Ground truth for an earlier prediction (labels may arrive late)',
        request: { params: ModelParam, ...jsonBody(FeedbackBody) },
        responses: {
          200: jsonResponse(
            'Recorded',
            z.object({ predictionId: z.uuid(), label: z.union([z.literal(0), z.literal(1)]) }),
          ),
          ...errors(400, 401, 403, 413, 415, 503),
          404: {
            ...errors(404)[404],
            description: 'No such model, or no such prediction of it (`unknown_prediction`)',
          },
        },
      }),
      async (c) => {
        const { model } = c.req.valid('param');
        return c.json(await recordFeedback(deps, model, c.req.valid('json')), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'put',
        path: '/models/{model}/versions/{version}/fault',
        summary: "Inject failures into a version's answers (rollback drills)",
        request: { params: VersionParams, ...jsonBody(FaultBody) },
        responses: {
          200: jsonResponse(
            'The version now fails this share of requests',
            z.object({
              model: z.string(),
              version: z.number().int().min(1),
              errorRate: z.number().min(0).max(1),
            }),
          ),
          ...writeErrors,
        },
      }),
      async (c) => {
        const { model, version } = c.req.valid('param');
        const { errorRate } = c.req.valid('json');
        await requireModel(deps, model);
        const updated = await db
          .update(modelVersions)
          .set({ faultErrorRate: errorRate })
          .where(and(eq(modelVersions.model, model), eq(modelVersions.version, version)))
          .returning({ version: modelVersions.version });
        if (updated.length === 0) throw notFound(`version ${version} of model ${model}`);
        gateway.invalidate(model);
        await db.insert(auditEvents).values({
          model,
          kind: 'fault_injection',
          actor: callerOf(c).name,
          reason: null,
          details: { version, errorRate },
        });
        return c.json({ model, version, errorRate }, 200);
      },
    );
}
