import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../../scripts/temporal-dev-server';
import { ensurePostgres } from '../../test/helpers/postgres';
import { type Stack, startStackWith } from '../../test/helpers/stack';
import { startWorkerProcess, type WorkerProcess } from '../../test/helpers/worker-process';
import { workflowsPath } from '../../workers/runtime';

export interface ControlStack {
  readonly temporal: Awaited<ReturnType<typeof startDevServer>>;
  readonly stack: Stack;
  /** The control worker, as its own process (no training worker: a run stays in training). */
  readonly worker: WorkerProcess;
  close(): Promise<void>;
}

/**
 * What the latency benchmarks run against: a Temporal dev server, Postgres
 * (DATABASE_URL, else scripts/ensure-postgres), and a control worker process
 * with the workflows bundled once up front (`workerEnv`: extra variables for
 * that worker, e.g. CTLOOP_WORKFLOW_CACHE).
 */
export async function startControlStack(
  opts: { workerEnv?: Record<string, string> } = {},
): Promise<ControlStack> {
  const temporal = await startDevServer({ headless: true });
  const bundlePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'ctloop-bench-')), 'workflows.js');
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath, logger: quiet })).code);
  const stack = await startStackWith(
    {
      temporalAddress: temporal.address,
      postgresUrl: process.env.DATABASE_URL ?? ensurePostgres(),
      workflowBundlePath: bundlePath,
      trainerPython: process.env.CTLOOP_TRAINER_PYTHON ?? 'python3',
    },
    { workers: false },
  );
  // Its start-up log line ("worker polling") is at info level, which startWorkerProcess waits for.
  const worker = await startWorkerProcess(stack, {
    script: 'workers/control.ts',
    ...(opts.workerEnv ? { env: opts.workerEnv } : {}),
  });
  return {
    temporal,
    stack,
    worker,
    async close() {
      await worker.kill('SIGTERM');
      await stack.close();
      await temporal.stop();
    },
  };
}
