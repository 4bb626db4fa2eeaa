import { ApplicationFailure } from '@temporalio/activity';
import { TriggerRefused } from '../triggers/submit-trigger';
import type { ActivityDeps } from './deps';

export interface ScheduledTriggerResult {
  readonly triggerId: string | null;
  readonly fate: string;
  readonly runId: string | null;
}

export function createScheduleActivities({ submitTrigger }: ActivityDeps) {
  return {
    /**
     * Submits the trigger of one schedule firing. Idempotent: the dedup key is
     * the schedule id and the firing's nominal time. A frozen model records
     * the trigger as `suppressed` and the firing ends normally (the schedule
     * keeps going; unfreezing the model is a person's decision); a deleted
     * model fails the firing without retries.
     */
    async submitScheduledTrigger(input: {
      model: string;
      scheduleId: string;
      scheduledTime: string;
    }): Promise<ScheduledTriggerResult> {
      if (!submitTrigger) throw new Error('this worker cannot trigger runs (no Temporal client)');
      try {
        const { body } = await submitTrigger(input.model, {
          reason: 'schedule',
          requestedBy: `schedule:${input.scheduleId}`,
          details: { scheduleId: input.scheduleId, scheduledTime: input.scheduledTime },
          dedupKey: `schedule/${input.scheduleId}/${input.scheduledTime}`,
        });
        return { triggerId: body.triggerId, fate: body.fate, runId: body.runId };
      } catch (err) {
        if (!(err instanceof TriggerRefused)) throw err;
        throw ApplicationFailure.nonRetryable(err.message, 'TriggerRefused');
      }
    },
  };
}
