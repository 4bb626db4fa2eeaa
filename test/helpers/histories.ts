import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTemporalCli } from '../../scripts/temporal-dev-server';
import type { Stack } from './stack';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'histories');

/** CTLOOP_RECORD_HISTORIES=1 refreshes the histories that test/e2e/replay.test.ts replays. */
export const recordingHistories = process.env.CTLOOP_RECORD_HISTORIES === '1';

/**
 * Writes one execution's history (the latest, or `runId`'s) to
 * test/fixtures/histories/<name>.json in the CLI's JSON, the format the
 * SDK's replayer reads.
 */
export async function recordHistory(
  stack: Stack,
  name: string,
  workflowId: string,
  runId?: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const args = ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.temporalAddress];
  if (runId) args.push('--run-id', runId);
  const json = execFileSync(await ensureTemporalCli(), [...args, '--output', 'json']);
  await writeFile(path.join(dir, `${name}.json`), json);
}

/** Records a run's history once its workflow has completed (its registry outcome lands a moment earlier). */
export async function recordRunHistory(stack: Stack, name: string, workflowId: string): Promise<void> {
  if (!recordingHistories) return;
  await stack.client.workflow
    .getHandle(workflowId)
    .result()
    .catch(() => undefined);
  await recordHistory(stack, name, workflowId);
}

interface HistoryEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
}

/** What a run waits on: a timer of its own, an activity, a child workflow. */
const AWAITED = new Set([
  'EVENT_TYPE_TIMER_FIRED',
  'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
  'EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED',
]);

/**
 * A history in the CLI's JSON with everything a run waited on delivered on an
 * earlier clock: each workflow task that delivers a fired timer, a completed
 * activity or a completed child gets the time of the task that started before
 * it. That is what the SDK handed a worker that took a run over live, after
 * the task that should have delivered a fired timer timed out with its worker
 * gone (the chaos soak; workflows/workflow-clock.ts), while replaying the same
 * history gives the later time. Returns the history and how many tasks it moved.
 */
export function withDeliveriesOnEarlierClocks<H extends { events: HistoryEvent[] }>(
  history: H,
): { history: H; moved: number } {
  const events = history.events.map((e) => ({ ...e }));
  let moved = 0;
  let lastStarted: string | null = null;
  let delivering = false;
  for (const event of events) {
    if (AWAITED.has(event.eventType)) delivering = true;
    if (event.eventType !== 'EVENT_TYPE_WORKFLOW_TASK_STARTED') continue;
    if (delivering && lastStarted !== null) {
      event.eventTime = lastStarted;
      moved += 1;
      delivering = false;
    }
    lastStarted = event.eventTime;
  }
  return { history: { ...history, events }, moved };
}
