import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { NotifyInput } from '../workflows/messages';
import type { ActivityDeps } from './deps';

/** Webhook receivers, from CTLOOP_WEBHOOKS; each delivery is signed when CTLOOP_WEBHOOK_SECRET is set. */
export interface WebhookConfig {
  readonly urls: readonly string[];
  readonly secret?: string;
}

export function createNotificationActivities({ webhooks, log }: ActivityDeps) {
  return {
    async webhookTargets(_input: { event: NotifyInput['event'] }): Promise<{ urls: string[] }> {
      return { urls: [...webhooks.urls] };
    },

    /**
     * POSTs one notification. Network errors, timeouts, 408, 429 and 5xx are
     * retried by Temporal with backoff; any other 4xx means the receiver will
     * never take it, so it is not retried.
     */
    async deliverWebhook(input: {
      url: string;
      deliveryId: string;
      notification: NotifyInput;
    }): Promise<void> {
      const body = JSON.stringify({ id: input.deliveryId, ...input.notification });
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-ctloop-event': input.notification.event,
        'x-ctloop-delivery': input.deliveryId,
      };
      if (webhooks.secret) {
        headers['x-ctloop-signature'] =
          `sha256=${createHmac('sha256', webhooks.secret).update(body).digest('hex')}`;
      }
      const res = await fetch(input.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) return;
      const message = `webhook ${input.url} answered ${res.status} to ${input.notification.event}`;
      log.warn({ url: input.url, status: res.status, event: input.notification.event }, 'webhook refused');
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        throw ApplicationFailure.nonRetryable(message, 'WebhookRefused');
      }
      throw new Error(message);
    },
  };
}
