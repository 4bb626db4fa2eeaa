import os from 'node:os';
import { fastPolicy, registerModel, writeDataset } from '../scripts/lib/scenario';
import { startModelWorkflow } from '../test/helpers/model-workflow';
import { submitTrigger } from '../triggers/submit-trigger';
import { modelWorkflowId } from '../workflows/messages';
import { startControlStack } from './lib/control-stack';

/**
 * `npm run bench -- continue-as-new-handover`: what a model workflow's
 * continue-as-new costs the triggers that arrive meanwhile, on the real
 * stack (Temporal dev server, Postgres, the control worker as its own
 * process). Triggers go in at RATE/s, evenly spaced, from this process
 * (`submitTrigger`, the API's own batching), each with a fresh dedup key, to
 * a model whose workflow continues as new every LIMIT updates. Reported per
 * execution: the size of the state it was handed (its input), how long its
 * first workflow task and the last one before it continued as new took
 * (scheduled → completed, from the history), and, beside it, a task in the
 * middle; and the latency of the triggers due around each hand-over.
 * Writes bench/results/continue-as-new-handover.json.
 */
const RATE = 100;
const TRIGGERS = 2_000;
const LIMIT = 300;

const at = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds ?? 0) * 1000 + Math.round((t?.nanos ?? 0) / 1e6);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? null;

async function main() {
  const control = await startControlStack();
  try {
    const { stack } = control;
    const data = await writeDataset(stack.dataDir, 'data', { rows: 1000, seed: 31 });
    await registerModel(stack.api(), 'handover', data, fastPolicy());
    await startModelWorkflow(stack, 'handover', { maxUpdatesPerExecution: LIMIT });
    const deps = { db: stack.database.db, temporal: stack.client, taskQueues: stack.taskQueues };

    const start = Date.now();
    const latencies: { dueAt: number; ms: number }[] = [];
    const sent: Promise<void>[] = [];
    for (let i = 0; i < TRIGGERS; i++) {
      const dueAt = start + (i * 1000) / RATE;
      const wait = dueAt - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent.push(
        submitTrigger(deps, 'handover', {
          reason: 'drift',
          dedupKey: `monitor/alert-${i}`,
          details: {},
          requestedBy: 'bench',
        }).then(() => {
          latencies.push({ dueAt, ms: Date.now() - dueAt });
        }),
      );
    }
    await Promise.all(sent);

    const runIds: { runId: string; startedAt: number }[] = [];
    for await (const w of stack.client.workflow.list({
      query: `WorkflowId = '${modelWorkflowId('handover')}'`,
    }))
      runIds.push({ runId: w.runId, startedAt: w.startTime.getTime() });
    runIds.sort((a, b) => a.startedAt - b.startedAt);

    const executions = [];
    for (const [n, { runId, startedAt }] of runIds.entries()) {
      const history = await stack.client.workflow
        .getHandle(modelWorkflowId('handover'), runId)
        .fetchHistory();
      const events = history.events ?? [];
      // Workflow tasks: scheduled (5) → completed (7), in history order.
      const tasks: number[] = [];
      let scheduledAt: number | null = null;
      for (const e of events) {
        if (Number(e.eventType) === 5) scheduledAt = at(e.eventTime);
        if (Number(e.eventType) === 7 && scheduledAt !== null) tasks.push(at(e.eventTime) - scheduledAt);
      }
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      const continued = events.some((e) => Number(e.eventType) === 28);
      // Triggers due from 300 ms before this execution started to 300 ms after.
      const around = latencies.filter((l) => Math.abs(l.dueAt - startedAt) <= 300).map((l) => l.ms);
      executions.push({
        execution: n + 1,
        startedAtS: Math.round((startedAt - start) / 100) / 10,
        inputBytes: started?.input?.payloads?.[0]?.data?.length ?? 0,
        firstTaskMs: tasks[0] ?? null,
        middleTaskMs: median(tasks.slice(2, -2)),
        lastTaskMs: continued ? (tasks.at(-1) ?? null) : null,
        triggersDueWithin300msOfStartMaxMs: n === 0 ? null : Math.max(...around),
      });
    }
    const all = latencies.map((l) => l.ms).sort((a, b) => a - b);
    const result = {
      bench: 'continue-as-new-handover',
      at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} at the end`,
      setup: `${TRIGGERS} triggers at ${RATE}/s, evenly spaced, each a fresh dedup key, from this process through submitTrigger (the API's batching), to one model whose workflow continues as new every ${LIMIT} updates; the control worker as its own process; Temporal dev server; Postgres`,
      triggerLatencyMs: {
        p50: all[Math.floor(all.length / 2)],
        p99: all[Math.floor(all.length * 0.99)],
        max: all.at(-1),
      },
      executions,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await control.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
