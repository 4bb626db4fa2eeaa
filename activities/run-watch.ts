import { CancelledFailure, Context } from '@temporalio/activity';
import type { RunResult } from '../workflows/messages';
import type { ActivityDeps } from './deps';

/** How a run workflow ended, as its watcher saw it. */
export type RunEnd =
  | { readonly ended: 'completed'; readonly result: RunResult }
  | { readonly ended: 'cancelled' | 'failed'; readonly message: string };

/** How often the watcher tells Temporal it is still waiting. */
const HEARTBEAT_MS = 10_000;

export function createRunWatchActivities({ runWorkflowResult }: ActivityDeps) {
  return {
    /**
     * Waits for a run workflow to end and answers how. The model's workflow
     * uses it for a run it carried across continue-as-new (it can no longer
     * wait for that run as its child). Heartbeats while it waits, so a lost
     * worker's wait moves to another; waiting again on an ended run answers
     * at once.
     */
    async awaitRunEnd(input: { readonly workflowId: string }): Promise<RunEnd> {
      if (!runWorkflowResult) throw new Error('this worker cannot watch runs (no Temporal client)');
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), HEARTBEAT_MS);
      try {
        const result = await Promise.race([runWorkflowResult(input.workflowId), context.cancelled]);
        return { ended: 'completed', result };
      } catch (err) {
        if (err instanceof CancelledFailure && context.cancellationSignal.aborted) throw err;
        const cause = (err as { cause?: unknown }).cause;
        const cancelled = cause instanceof CancelledFailure;
        return { ended: cancelled ? 'cancelled' : 'failed', message: (err as Error).message ?? String(err) };
      } finally {
        clearInterval(beat);
      }
    },
  };
}
