import type { WorkflowHandle } from '@temporalio/client';
import { parseTriggerPolicy } from '../../domain/policy';
import { type TriggerAccepted, triggerBatchUpdate } from '../../workflows/messages';

/**
 * A function that sends the model workflow behind `handle` one trigger in one
 * update, straight (no API, no Postgres), as the API does for a quiet model;
 * each call a fresh trigger id, no dedup key, the default trigger policy.
 */
export function oneTriggerUpdates(handle: WorkflowHandle): () => Promise<TriggerAccepted[]> {
  const policy = parseTriggerPolicy({});
  let n = 0;
  return () =>
    handle.executeUpdate(triggerBatchUpdate, {
      args: [
        [
          {
            cause: {
              triggerId: `bench-${n++}`,
              reason: 'drift',
              requestedBy: 'bench',
              details: {},
              receivedAt: new Date().toISOString(),
            },
            context: { dedupKey: null, policy },
          },
        ],
        [],
      ],
    });
}
