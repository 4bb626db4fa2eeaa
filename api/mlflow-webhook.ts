import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { findModel } from '../db/registry';
import type { ApiDeps } from './deps';
import { errorBody } from './errors';
import { submitTriggerForApi } from './routes/triggers';

/** Deliveries older (or newer) than this are refused: a captured request cannot be replayed later. */
const MAX_SKEW_SECONDS = 300;
const MAX_BODY_BYTES = 65_536;

/**
 * `POST /integrations/mlflow/webhook`: MLflow's `model_version.created`
 * webhook. A version someone else's training job registers under the name of
 * a ctloop model becomes a `registry` trigger for it (evaluate → approve →
 * canary → promote, no training). MLflow signs each delivery:
 * `X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">`
 * with the webhook's secret, which ctloop knows as CTLOOP_MLFLOW_WEBHOOK_SECRET.
 * ctloop's own versions (tagged `ctloop.run_id`) and other models are
 * acknowledged and ignored; `mlflow:<model>:<version>` is the trigger's dedup
 * key, so a delivery repeated within the dedup TTL starts nothing twice.
 */
export function mlflowWebhookHandler(deps: ApiDeps, secret: string | undefined) {
  return async (c: Context) => {
    if (!secret) {
      return c.json(
        errorBody('not_configured', 'MLflow webhooks are off: set CTLOOP_MLFLOW_WEBHOOK_SECRET'),
        404,
      );
    }
    const body = await c.req.text();
    if (body.length > MAX_BODY_BYTES) return c.json(errorBody('too_large', 'webhook body over 64 KiB'), 413);
    const delivery = c.req.header('x-mlflow-delivery-id') ?? '';
    const timestamp = c.req.header('x-mlflow-timestamp') ?? '';
    const signature = c.req.header('x-mlflow-signature') ?? '';
    const expected = `v1,${createHmac('sha256', secret).update(`${delivery}.${timestamp}.${body}`).digest('base64')}`;
    const given = Buffer.from(signature);
    if (given.length !== Buffer.byteLength(expected) || !timingSafeEqual(given, Buffer.from(expected))) {
      return c.json(
        errorBody('bad_signature', 'X-MLflow-Signature does not match the body and the shared secret'),
        401,
      );
    }
    const sent = Number(timestamp);
    if (!Number.isFinite(sent) || Math.abs(Date.now() / 1000 - sent) > MAX_SKEW_SECONDS) {
      return c.json(
        errorBody('stale_delivery', `X-MLflow-Timestamp is more than ${MAX_SKEW_SECONDS} s away`),
        401,
      );
    }
    let event: {
      entity?: unknown;
      action?: unknown;
      data?: { name?: unknown; version?: unknown; tags?: unknown };
    };
    try {
      event = JSON.parse(body);
    } catch {
      return c.json(errorBody('invalid_request', 'the body is not JSON'), 400);
    }
    const data = event.data ?? {};
    if (event.entity !== 'model_version' || event.action !== 'created') {
      return c.json({ ignored: `event ${String(event.entity)}.${String(event.action)}` }, 200);
    }
    if (
      typeof data.name !== 'string' ||
      typeof data.version !== 'string' ||
      !/^[1-9]\d{0,9}$/.test(data.version)
    ) {
      return c.json(
        errorBody('invalid_request', 'data.name and data.version (a version number) are needed'),
        400,
      );
    }
    const tags = (data.tags && typeof data.tags === 'object' ? data.tags : {}) as Record<string, unknown>;
    if ('ctloop.run_id' in tags) return c.json({ ignored: 'a version ctloop registered itself' }, 200);
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(data.name) || !(await findModel(deps.db, data.name))) {
      return c.json({ ignored: `no ctloop model named ${data.name}` }, 200);
    }
    const { status, body: answer } = await submitTriggerForApi(deps, data.name, {
      reason: 'registry',
      details: { mlflowVersion: data.version },
      dedupKey: `mlflow:${data.name}:${data.version}`,
      requestedBy: 'mlflow',
    });
    return c.json(answer, status);
  };
}
