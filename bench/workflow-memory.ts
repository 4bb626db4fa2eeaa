import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { parsePolicy } from '../domain/policy';
import { fastPolicy } from '../scripts/lib/scenario';
import { startTemporalDevServer } from '../test/helpers/temporal-server';
import { workflowsPath } from '../workers/workflow-bundle';
import type { ModelWorkflowInput, RunWorkflowInput } from '../workflows/messages';
import { positiveOption } from './lib/options';

/**
 * `npm run bench -- workflow-memory`: the memory one cached workflow costs a
 * control worker.
 *
 * Temporal's reusable V8 context evaluates a workflow's modules anew for
 * every workflow in the worker's cache (module state stays per workflow), so
 * everything the workflow bundle imports is paid once per cached workflow.
 * This bench bundles the workflow code as a worker does, runs a worker with
 * the workflows on its main thread (`debugMode`, so that their heap shows in
 * `heapUsed`) against a Temporal dev server, and starts N model workflows,
 * then N run workflows. Each waits for an activity, cached: a model
 * workflow's first fails (not registered here) and waits for its retry; a
 * run's bookkeeping answers, and it waits for validateData's retry. JS heap after a full GC, before and after, per workflow.
 *
 *   npx tsx bench/workflow-memory.ts [--workflows 200]
 *
 * Prints the JSON result (`npm run bench` writes bench/results/workflow-memory.json).
 */
const BENCH = 'bench/workflow-memory';
const N = positiveOption(BENCH, 'workflows', 200);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const round = (x: number) => Math.round(x * 10) / 10;

function memory() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heapMb: round(m.heapUsed / 1e6), rssMb: round(m.rss / 1e6) };
}

const quiet = () => {};
const logger = { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet };
const bundle = await bundleWorkflowCode({ workflowsPath, logger });
const packages = [
  ...new Set([...bundle.code.matchAll(/\.\/node_modules\/((?:@[^/"]+\/)?[^/"]+)\//g)].map((m) => m[1])),
];

const server = await startTemporalDevServer();
const connection = await NativeConnection.connect({ address: server.address });
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
const taskQueue = 'workflow-memory';
const worker = await Worker.create({
  connection,
  taskQueue,
  workflowBundle: bundle,
  debugMode: true,
  maxCachedWorkflows: 2 * N + 10,
  // A run's bookkeeping (local activities) answers; its first real step, validateData, is not
  // registered here, so each run waits for that activity's retry.
  activities: {
    beginRun: async () => ({ policy: parsePolicy(fastPolicy()), dataUri: 'none.csv', championVersion: null }),
    setRunStage: async () => {},
    saveRunReport: async () => {},
  },
});
const running = worker.run();

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<typeof client.workflow.getHandle>['fetchHistory']>>['events']
>[number];

/** Starts `count` workflows and waits until each one's history shows `waiting` (it is cached, waiting). */
async function startAll(
  count: number,
  start: (i: number) => Promise<{ workflowId: string }>,
  waiting: (e: HistoryEvent) => boolean,
) {
  const handles = [];
  for (let i = 0; i < count; i++) handles.push(await start(i));
  for (const { workflowId } of handles) {
    for (;;) {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      if ((history.events ?? []).some(waiting)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function perWorkflow(
  kind: string,
  waiting: (e: HistoryEvent) => boolean,
  start: (i: number) => Promise<{ workflowId: string }>,
) {
  const before = memory();
  await startAll(N, start, waiting);
  const after = memory();
  return {
    kind,
    workflows: N,
    before,
    after,
    heapKbPerWorkflow: Math.round(((after.heapMb - before.heapMb) * 1000) / N),
  };
}

try {
  await new Promise((r) => setTimeout(r, 1_000));
  // A model workflow with nothing to do waits for triggers once its first task completes.
  const model = await perWorkflow(
    'modelWorkflow (idle, waiting for triggers)',
    (e) => !!e.workflowTaskCompletedEventAttributes,
    (i) =>
      client.workflow.start('modelWorkflow', {
        workflowId: `model-${i}`,
        taskQueue,
        args: [{ model: `m-${i}`, trainTaskQueue: 'none' } satisfies ModelWorkflowInput],
      }),
  );
  const run = await perWorkflow(
    'runWorkflow (waiting for validateData)',
    (e) => !!e.activityTaskScheduledEventAttributes,
    (i) =>
      client.workflow.start('runWorkflow', {
        workflowId: `run-${i}`,
        taskQueue,
        args: [
          { model: `m-${i}`, runId: `r-${i}`, causes: [], trainTaskQueue: 'none' } satisfies RunWorkflowInput,
        ],
      }),
  );
  console.log(
    JSON.stringify({
      bench: 'workflow-memory',
      at: new Date().toISOString(),
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
      bundle: { bytes: bundle.code.length, packagesFromNodeModules: packages },
      results: [model, run],
      before:
        'At f74e63c the bundle carried zod (3.36 MB): the same measurement gave 1,465 KB per idle model workflow (200 workflows: heap 101 → 394 MB); with zod resolved to an empty stub, 140 KB.',
    }),
  );
} finally {
  worker.shutdown();
  await running;
  await server.stop();
}
