import { z } from '@hono/zod-openapi';
import { windowOverride } from '../domain/data-window';
import { policySchema } from '../domain/policy';
import { TRIGGER_REASONS } from '../workflows/messages';

/** Request and response schemas: the one source for validation, OpenAPI and types. */

/** What a model's name may be (ModelParam's rule). */
export const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const ModelParam = z.object({
  model: z
    .string()
    .regex(MODEL_NAME, 'model names are lowercase letters, digits, ".", "_" or "-"')
    .openapi({ param: { name: 'model', in: 'path' }, example: 'churn' }),
});

/** Versions, counts and ids are 32-bit integer columns: a larger number is a 400, not a failed query. */
export const INT32_MAX = 2_147_483_647;

export const VersionParams = ModelParam.extend({
  version: z.coerce
    .number()
    .int()
    .positive()
    .max(INT32_MAX)
    .openapi({ param: { name: 'version', in: 'path' }, example: 1 }),
});

export const RunParams = ModelParam.extend({
  runId: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: 'runId', in: 'path' } }),
});

export const actor = z.string().trim().min(1).max(200);

export const DataUri = z.string().min(1).max(2000);

/** Free-form JSON a caller attaches (a trigger's details): kept, so kept small. */
export const MAX_DETAILS_BYTES = 16_384;
const MAX_DETAILS_KEYS = 100;
const Details = z
  .record(z.string().max(200), z.unknown())
  .refine((d) => Object.keys(d).length <= MAX_DETAILS_KEYS, { message: `at most ${MAX_DETAILS_KEYS} keys` })
  .refine((d) => JSON.stringify(d).length <= MAX_DETAILS_BYTES, {
    message: `must be at most ${MAX_DETAILS_BYTES} bytes as JSON`,
  })
  .superRefine((d, ctx) => {
    // A training window named by the trigger is checked here, so a bad one is a 400 and not a rejected run.
    const window = windowOverride(d.window, new Date().toISOString());
    if (window && 'error' in window)
      ctx.addIssue({ code: 'custom', path: ['window'], message: window.error });
  })
  .openapi({
    maxProperties: MAX_DETAILS_KEYS,
    description: `any JSON object: at most ${MAX_DETAILS_KEYS} keys, ${MAX_DETAILS_BYTES} bytes. \`dataUri\` names the data to train on (a file or a pattern); \`window\` ({from, to} as YYYY-MM-DD, or {days}) the training window of a partitioned source`,
  });

export const RegisterModelBody = z
  .object({
    name: ModelParam.shape.model,
    dataUri: DataUri.openapi({
      description:
        'The training data: a CSV path, an artifact:// URI, or a pattern of dated partitions (data/churn/dt=*/part-*.csv or .parquet) that each run takes its window from (policy.data)',
    }),
    policy: policySchema,
  })
  .openapi('RegisterModel');

export const UpdateModelBody = z
  .object({
    dataUri: DataUri.optional(),
    policy: policySchema.optional(),
  })
  .openapi('UpdateModel');

export const TriggerBody = z
  .object({
    reason: z.enum(TRIGGER_REASONS),
    details: Details.default({}),
    dedupKey: z.string().min(1).max(200).optional(),
  })
  .refine((t) => (t.reason === 'registry') === (t.details.mlflowVersion !== undefined), {
    message: 'reason registry goes with details.mlflowVersion (the MLflow version to evaluate), and only it',
    path: ['details', 'mlflowVersion'],
  })
  .refine(
    (t) => t.details.mlflowVersion === undefined || /^[1-9]\d{0,9}$/.test(String(t.details.mlflowVersion)),
    {
      message: 'details.mlflowVersion must be an MLflow version number, e.g. "5"',
      path: ['details', 'mlflowVersion'],
    },
  )
  .openapi('Trigger');

/** The caller is the actor of every call: who decides, who rolls back, comes from the API token. */
export const DecisionBody = z
  .object({
    reason: z.string().max(2000).optional(),
    evaluationReportHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .openapi({
        description:
          'SHA-256 of the evaluation report the approver saw (from GET /v1/approvals); refused if the run has another',
      }),
  })
  .openapi('Decision');
export const RollbackBody = z.object({ reason: z.string().min(1).max(2000) }).openapi('Rollback');
export const ControlBody = z
  .object({ reason: z.string().min(1).max(2000).optional() })
  .openapi('CanaryControl');
export const CancelBody = z.object({ reason: z.string().min(1).max(2000) }).openapi('Cancel');

const MAX_FEATURES = 1000;
const MAX_FEATURE_NAME = 200;
const MAX_KEY = 200;

export const PredictBody = z
  .object({
    features: z
      .record(z.string().max(MAX_FEATURE_NAME), z.number().nullable())
      .refine((f) => Object.keys(f).length <= MAX_FEATURES, {
        message: `at most ${MAX_FEATURES} features`,
      })
      .openapi({ maxProperties: MAX_FEATURES }),
    key: z
      .string()
      .min(1)
      .max(MAX_KEY)
      .optional()
      .openapi({ description: 'sticky routing key, e.g. a user id' }),
  })
  .openapi('Predict');

/**
 * The serving hot path's check of a predict body: PredictBody's output for a
 * body it accepts at a glance (plain feature values, no NUL characters), or
 * null, and then the caller validates with PredictBody itself, which gives the
 * API's error for a bad body. It accepts nothing PredictBody refuses (a test
 * compares the two), so it changes only how fast a good body is read.
 */
export function quickPredictBody(body: unknown): z.output<typeof PredictBody> | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const { features, key } = body as { features?: unknown; key?: unknown };
  if (features === null || typeof features !== 'object' || Array.isArray(features)) return null;
  if (Object.getPrototypeOf(features) !== Object.prototype) return null;
  if (
    key !== undefined &&
    (typeof key !== 'string' || key.length < 1 || key.length > MAX_KEY || key.includes('\u0000'))
  )
    return null;
  let count = 0;
  for (const name in features) {
    if (!Object.hasOwn(features, name)) return null;
    if (
      ++count > MAX_FEATURES ||
      name.length > MAX_FEATURE_NAME ||
      name === '__proto__' ||
      name.includes('\u0000')
    )
      return null;
    const value = (features as Record<string, unknown>)[name];
    if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) return null;
  }
  return key === undefined
    ? { features: features as Record<string, number | null> }
    : { features: features as Record<string, number | null>, key };
}

export const FeedbackBody = z
  .object({ predictionId: z.uuid(), label: z.union([z.literal(0), z.literal(1)]) })
  .openapi('Feedback');

export const FaultBody = z.object({ errorRate: z.number().min(0).max(1) }).openapi('FaultInjection');

export const ErrorResponse = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) }),
  })
  .openapi('Error');

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorResponse } },
});

/**
 * Every error status an operation can answer, with the shape they share.
 * 503 comes from an unreachable registry (`database_unavailable`) or Temporal
 * (`temporal_unavailable`); callers retry.
 */
const ERRORS = {
  400: errorResponse('Invalid request (`invalid_request`): details.issues names each bad field'),
  401: errorResponse('No API token, or an unknown one (`unauthenticated`)'),
  403: errorResponse("The token's role may not make this call (`forbidden`)"),
  404: errorResponse('The model, or what the path names, does not exist (`not_found`)'),
  409: errorResponse('Conflict with the current state; `code` says which'),
  413: errorResponse('The body is over 1 MiB (64 MiB for a drift report) (`too_large`)'),
  415: errorResponse('The body is not `application/json`'),
  503: errorResponse(
    'The registry database (`database_unavailable`) or Temporal (`temporal_unavailable`) did not answer; retry',
  ),
} as const;
type ErrorStatus = keyof typeof ERRORS;

export function errors<S extends ErrorStatus>(...statuses: S[]): { [K in S]: (typeof ERRORS)[K] } {
  return Object.fromEntries(statuses.map((s) => [s, ERRORS[s]])) as { [K in S]: (typeof ERRORS)[K] };
}

/** A read of a model or what it owns: a bad path, no token, no such model, a registry that is down. */
export const readErrors = errors(400, 401, 404, 503);
/** A call with a JSON body on a model: a bad body or one that is not JSON, a role that may not, no such model. */
export const writeErrors = errors(400, 401, 403, 404, 413, 415, 503);

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { 'application/json': { schema } } },
});

export const jsonResponse = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { 'application/json': { schema } },
});
