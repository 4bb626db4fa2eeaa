import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NotifyInput } from './messages';

const lookup = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds' });
// A receiver that is down for a while still gets the message: about 20 minutes of retries with backoff.
const deliver = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    maximumAttempts: 10,
  },
});

/**
 * Delivers one notification to every configured webhook, each with its own
 * retries. Started by a run as an abandoned child, so a slow or failing
 * receiver never holds the run up; its history in the Temporal UI shows every
 * attempt.
 */
export async function notifyWorkflow(
  notification: NotifyInput,
): Promise<{ delivered: string[]; failed: string[] }> {
  const { urls } = await lookup.webhookTargets({ event: notification.event });
  const deliveryId = workflowInfo().workflowId;
  const results = await Promise.allSettled(
    urls.map((url) => deliver.deliverWebhook({ url, deliveryId, notification })),
  );
  const delivered = urls.filter((_, i) => results[i]!.status === 'fulfilled');
  const failed = urls.filter((_, i) => results[i]!.status === 'rejected');
  if (failed.length > 0 && delivered.length === 0) {
    throw ApplicationFailure.nonRetryable(`no webhook accepted ${notification.event}: ${failed.join(', ')}`);
  }
  return { delivered, failed };
}
