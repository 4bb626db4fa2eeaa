import { z } from '@hono/zod-openapi';
import { policySchema } from '../domain/policy';
import { TRIGGER_REASONS } from '../workflows/messages';

/** Request and response schemas: the one source for validation, OpenAPI and types. */

export const ModelParam = z.object({
  model: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'model names are lowercase letters, digits, ".", "_" or "-"')
    .openapi({ param: { name: 'model', in: 'path' }, example: 'churn' }),
});

export const VersionParams = ModelParam.extend({
  version: z.coerce
    .number()
    .int()
    .positive()
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

export const RegisterModelBody = z
  .object({
    name: ModelParam.shape.model,
    dataUri: z.string().min(1).openapi({ description: 'CSV path or artifact:// URI of the training data' }),
    policy: policySchema,
  })
  .openapi('RegisterModel');

export const UpdateModelBody = z
  .object({
    dataUri: z.string().min(1).optional(),
    policy: policySchema.optional(),
  })
  .openapi('UpdateModel');

export const TriggerBody = z
  .object({
    reason: z.enum(TRIGGER_REASONS),
    details: z.record(z.string(), z.unknown()).default({}),
    dedupKey: z.string().min(1).max(200).optional(),
  })
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

export const PredictBody = z
  .object({
    features: z.record(z.string(), z.number().nullable()),
    key: z.string().min(1).max(200).optional().openapi({ description: 'sticky routing key, e.g. a user id' }),
  })
  .openapi('Predict');

export const FeedbackBody = z
  .object({ predictionId: z.uuid(), label: z.union([z.literal(0), z.literal(1)]) })
  .openapi('Feedback');

export const FaultBody = z.object({ errorRate: z.number().min(0).max(1) }).openapi('FaultInjection');

export const ErrorResponse = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) }),
  })
  .openapi('Error');

/** A JSON object response whose shape is documented in the README (registry rows). */
export const AnyObject = z.record(z.string(), z.unknown());

export const errorResponses = {
  400: { description: 'Invalid request', content: { 'application/json': { schema: ErrorResponse } } },
  404: { description: 'Not found', content: { 'application/json': { schema: ErrorResponse } } },
  409: {
    description: 'Conflict with the current state',
    content: { 'application/json': { schema: ErrorResponse } },
  },
} as const;

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { 'application/json': { schema } } },
});

export const jsonResponse = (description: string, schema: z.ZodType = AnyObject) => ({
  description,
  content: { 'application/json': { schema } },
});
