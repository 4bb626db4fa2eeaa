import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fastPolicy, registerModel, writeDataset } from '../scripts/lib/scenario';
import { startModelWorkflow } from '../test/helpers/model-workflow';
import { submitTrigger } from '../triggers/submit-trigger';
import { modelWorkflowId } from '../workflows/messages';
import { startControlStack } from './lib/control-stack';
import { oneTriggerUpdates } from './lib/one-trigger';
import { cpuMs } from './lib/processes';

/**
 * `npm run bench -- update-cost`: what one trigger update costs the Temporal
 * dev server and the control worker, and how that grows as an execution of
 * the model workflow takes more updates (Temporal keeps a record of every
 * update in the execution's state). On the stack of bench/trigger-load.ts
 * (dev server, Postgres, the control worker as its own process), one update
 * of one trigger at a time, straight to the model workflow (no API), while
 * its run waits in training, so each trigger joins the follow-up as in a
 * storm. The workflow is started to continue as new only after `--updates`
 * updates; the figures are per block of `--block` updates: CPU of each
 * process per update (from /proc) and the update's latency.
 *
 *   npx tsx bench/update-cost.ts [--updates 1800] [--block 100]
 *
 * Writes bench/results/update-cost.json and prints the same JSON.
 */

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 10)
    throw new Error(`bench/update-cost: --${name} must be an integer ≥ 10`);
  return value;
}

const UPDATES = option('updates', 1_800);
const BLOCK = option('block', 100);
/** Temporal accepts 2,000 updates per execution; the workflow must not continue as new before the last block. */
if (UPDATES > 1_950) throw new Error('bench/update-cost: --updates must be at most 1950');

const round = (x: number) => Math.round(x * 100) / 100;

function percentile(ms: number[], q: number): number {
  const sorted = [...ms].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
}

async function main() {
  const control = await startControlStack();
  const { stack } = control;
  try {
    const model = 'update-cost';
    await registerModel(
      stack.api(),
      model,
      await writeDataset(stack.dataDir, 'uc', { rows: 500, seed: 7 }),
      fastPolicy(),
    );
    // 5 events per update; the workflow's own event limit stays above them.
    await startModelWorkflow(stack, model, {
      maxUpdatesPerExecution: UPDATES + 10,
      maxHistoryEvents: 5 * UPDATES + 200,
    });
    const deps = { db: stack.database.db, temporal: stack.client, taskQueues: stack.taskQueues };
    // The first trigger starts the run (no training worker: it stays in training).
    await submitTrigger(deps, model, { reason: 'manual', details: {}, requestedBy: 'bench' });
    const handle = stack.client.workflow.getHandle(modelWorkflowId(model));
    const runId = (await handle.describe()).runId;
    const update = oneTriggerUpdates(handle);
    const server = control.temporal.pid;
    const worker = control.worker.pid;
    const blocks: {
      updatesBefore: number;
      serverCpuMsPerUpdate: number | null;
      workerCpuMsPerUpdate: number | null;
      latencyMs: { p50: number; p99: number };
    }[] = [];
    for (let done = 1; done + BLOCK <= UPDATES; done += BLOCK) {
      const serverBefore = cpuMs(server);
      const workerBefore = cpuMs(worker);
      const ms: number[] = [];
      for (let k = 0; k < BLOCK; k++) {
        const start = performance.now();
        await update();
        ms.push(performance.now() - start);
      }
      const serverAfter = cpuMs(server);
      const workerAfter = cpuMs(worker);
      blocks.push({
        updatesBefore: done,
        serverCpuMsPerUpdate:
          serverBefore === null || serverAfter === null ? null : round((serverAfter - serverBefore) / BLOCK),
        workerCpuMsPerUpdate:
          workerBefore === null || workerAfter === null ? null : round((workerAfter - workerBefore) / BLOCK),
        latencyMs: { p50: percentile(ms, 0.5), p99: percentile(ms, 0.99) },
      });
    }
    if ((await handle.describe()).runId !== runId)
      throw new Error('the model workflow continued as new mid-bench');
    // The first block includes the stack warming up; the second is the start of a steady execution.
    const early = blocks[1] ?? blocks[0]!;
    const late = blocks.at(-1)!;
    const report = {
      bench: 'update-cost',
      at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, load average ${os.loadavg().map(round).join(' ')} at the end`,
      setup:
        'Temporal dev server (SQLite in memory), Postgres, the control worker as its own process; one update of one trigger at a time straight to the model workflow, its run waiting in training (every trigger joins the follow-up); CPU from /proc per block',
      updates: UPDATES,
      block: BLOCK,
      blocks,
      serverCpuGrowth:
        early.serverCpuMsPerUpdate && late.serverCpuMsPerUpdate
          ? round(late.serverCpuMsPerUpdate / early.serverCpuMsPerUpdate)
          : null,
      note: 'serverCpuGrowth: the last block over the second (the first includes warming up)',
    };
    const json = JSON.stringify(report, null, 2);
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/update-cost.json', `${json}\n`);
    console.log(json);
  } finally {
    await control.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
