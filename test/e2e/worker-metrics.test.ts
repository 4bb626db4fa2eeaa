import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  registerModel,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { freePort } from '../../scripts/temporal-dev-server';
import { parseExposition, select, sum } from '../helpers/exposition';
import { type Stack, startStack } from '../helpers/stack';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

/**
 * An operator watching a worker pool's health needs the Temporal SDK's own
 * figures (how long tasks wait for a worker, how long they take): with
 * CTLOOP_WORKER_METRICS a worker process serves them for Prometheus.
 */
describe('worker metrics (CTLOOP_WORKER_METRICS)', () => {
  let stack: Stack;
  let worker: WorkerProcess | null = null;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await stack?.close();
  });

  it('serves the workflow tasks it ran, by workflow type, with millisecond buckets', async () => {
    const port = await freePort();
    worker = await startWorkerProcess(stack, { env: { CTLOOP_WORKER_METRICS: `127.0.0.1:${port}` } });
    const api = stack.api();
    const model = 'metered';
    const data = await writeDataset(stack.dataDir, 'data', { rows: 800, seed: 71 });
    await registerModel(api, model, data, fastPolicy());
    const { runId } = await trigger(api, model, { reason: 'manual' });
    await waitForRun(api, model, runId, inStage('approve'));

    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    const metrics = parseExposition(await res.text());
    const total = (name: string, labels: Record<string, string> = {}) => sum(select(metrics, name, labels));
    const queue = stack.taskQueues.control;
    for (const workflowType of ['modelWorkflow', 'runWorkflow']) {
      const ran = total('temporal_workflow_task_execution_latency_count', {
        task_queue: queue,
        workflow_type: workflowType,
      });
      expect(ran, `${workflowType} workflow tasks`).toBeGreaterThanOrEqual(1);
      // ctloop's buckets (workers/runtime.ts), finer than the SDK's 1/10/20/50 ms.
      const under15ms = select(metrics, 'temporal_workflow_task_execution_latency_bucket', {
        task_queue: queue,
        workflow_type: workflowType,
        le: '15',
      });
      expect(under15ms).toHaveLength(1);
      expect(under15ms[0]!.value).toBeLessThanOrEqual(ran);
    }
    expect(
      total('temporal_workflow_task_schedule_to_start_latency_count', { task_queue: queue }),
    ).toBeGreaterThanOrEqual(2);
    // Validation, training and evaluation ran here too.
    expect(total('temporal_activity_execution_latency_count')).toBeGreaterThanOrEqual(1);

    await decide(stack.api('alice'), model, runId, 'reject', 'metrics seen');
    await waitForRun(api, model, runId, hasEnded);
  });

  it('refuses an address that is not host:port at start-up, naming the variable', async () => {
    await expect(
      startWorkerProcess(stack, { env: { CTLOOP_WORKER_METRICS: 'metrics.local' }, timeoutMs: 60_000 }),
    ).rejects.toThrow(/CTLOOP_WORKER_METRICS: must be host:port/);
  });

  it('stops at start-up when the port is taken, naming the variable and the address', async () => {
    const taken = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      await expect(
        startWorkerProcess(stack, { env: { CTLOOP_WORKER_METRICS: `127.0.0.1:${port}` }, timeoutMs: 60_000 }),
      ).rejects.toThrow(new RegExp(`CTLOOP_WORKER_METRICS 127\\.0\\.0\\.1:${port}: .*in use`));
    } finally {
      taken.close();
    }
  });
});
