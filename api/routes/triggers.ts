import { createRoute } from '@hono/zod-openapi';
import { submitTrigger, TriggerRefused, type TriggerRequest } from '../../triggers/submit-trigger';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { createRouter } from '../router';
import { errorResponses, jsonBody, jsonResponse, ModelParam, TriggerBody } from '../schemas';
import { temporalCallError } from '../temporal-errors';

/** The shared submission, with its refusals and Temporal's errors as API errors. */
export async function submitTriggerForApi(deps: ApiDeps, model: string, request: TriggerRequest) {
  try {
    return await submitTrigger(deps, model, request);
  } catch (err) {
    if (err instanceof TriggerRefused) throw new ApiError(err.status, err.code, err.message, err.details);
    throw temporalCallError(err, 'trigger');
  }
}

export function triggerRoutes(deps: ApiDeps) {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/models/{model}/triggers',
      summary:
        'Ask for a retrain (drift, schedule, performance, manual); answers with the run it started or joined',
      request: { params: ModelParam, ...jsonBody(TriggerBody) },
      responses: {
        202: jsonResponse('Accepted: the run this trigger started, or the follow-up run it joined'),
        200: jsonResponse('Duplicate dedupKey: nothing new happened'),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { status, body } = await submitTriggerForApi(deps, c.req.valid('param').model, {
        ...c.req.valid('json'),
        requestedBy: callerOf(c).name,
      });
      return c.json(body, status);
    },
  );
}
