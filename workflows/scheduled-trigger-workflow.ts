import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { type ScheduledTriggerInput, scheduleId } from './messages';

/** Set by the Temporal scheduler on every workflow it starts: the action's nominal time, before jitter. */
const scheduledStartTimeKey = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

const control = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // No attempt limit: while the registry or Temporal is unreachable the firing waits, and the
  // schedule's SKIP overlap policy keeps later firings from piling up behind it.
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute' },
});

/**
 * One firing of a retrain schedule (`ct-schedule/<model>/<name>`): hands the
 * model's workflow a trigger with reason `schedule`. The trigger's dedup key
 * is the schedule id and the nominal time, so a retried activity or a
 * re-delivered firing starts nothing twice.
 */
export async function scheduledTriggerWorkflow(input: ScheduledTriggerInput) {
  const info = workflowInfo();
  // Absent when someone starts this workflow by hand; its start time then stands in.
  const nominal = info.typedSearchAttributes.get(scheduledStartTimeKey) ?? info.startTime;
  return control.submitScheduledTrigger({
    model: input.model,
    scheduleId: scheduleId(input.model, input.name),
    scheduledTime: nominal.toISOString(),
  });
}
