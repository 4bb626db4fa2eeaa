import { createRoute } from '@hono/zod-openapi';
import { submitTrigger, TriggerRefused, type TriggerRequest } from '../../triggers/submit-trigger';
import { callerOf } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { TriggerAnswer } from '../responses';
import { createRouter } from '../router';
import { errors, jsonBody, jsonResponse, ModelParam, TriggerBody, writeErrors } from '../schemas';
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
        'Ask for a retrain (drift, schedule, performance, manual); answers with the fate the model workflow decided',
      description:
        'Every trigger is stored with its fate. `started`, `queued` (opened the follow-up run), `joined` ' +
        '(joined it), `held` (the follow-up waits for a canary/bake or a cooldown) answer 202 with the run; ' +
        '`deduplicated` (same dedupKey within its TTL: `duplicateOf` and its run) and `suppressed` ' +
        '(frozen, cooldown, daily budget: see `reason`) answer 200 and start nothing.',
      request: { params: ModelParam, ...jsonBody(TriggerBody) },
      responses: {
        202: jsonResponse(
          'Part of a run: the run it started, or the follow-up run it opened or joined',
          TriggerAnswer,
        ),
        200: jsonResponse('Deduplicated or suppressed: nothing new happened', TriggerAnswer),
        ...writeErrors,
        409: { ...errors(409)[409], description: 'The model workflow refused the trigger (`refused`)' },
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
