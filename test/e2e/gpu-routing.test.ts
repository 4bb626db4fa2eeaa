import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fastPolicy,
  hasEnded,
  registerModel,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

/**
 * A folder with an `nvidia-smi` that answers as given, put first on PATH: the
 * GPU worker's start-up check runs the real command name, and this machine has
 * no GPU, so the test decides what the "driver" says.
 */
function fakeNvidiaSmi(dir: string, script: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'nvidia-smi');
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return `${dir}${path.delimiter}${process.env.PATH}`;
}

describe('GPU routing: training that needs a GPU runs only on a worker that has one', () => {
  let stack: Stack;
  let gpuWorker: WorkerProcess | null = null;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await gpuWorker?.kill('SIGKILL');
    await stack?.close();
  });

  it('a GPU worker that sees no GPU refuses to start, and says why', () => {
    const PATH = fakeNvidiaSmi(
      path.join(stack.dataDir, 'broken-driver'),
      'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver." >&2; exit 9',
    );
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'workers/train-gpu.ts'], {
      env: {
        ...process.env,
        PATH,
        DATABASE_URL: stack.databaseUrl ?? '',
        TEMPORAL_ADDRESS: stack.temporalAddress,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/this GPU training worker sees no GPU: nvidia-smi -L failed/);
  });

  it('sends training to the GPU queue, where only the GPU worker picks it up', async () => {
    const api = stack.api();
    const model = 'needs-gpu';
    await registerModel(
      api,
      model,
      await writeDataset(stack.dataDir, 'data', { rows: 1000, seed: 61 }),
      fastPolicy({
        approval: { required: false, timeoutSeconds: 60 },
        training: { resources: { gpu: true } },
      }),
    );
    const { runId } = await trigger(api, model, { reason: 'manual' });
    const waiting = await waitForRun(api, model, runId, (r) => r.stage === 'train' && r.live !== null);
    expect(waiting.live.training.taskQueue).toBe(stack.taskQueues.gpuTrain);
    // The CPU training worker of this stack is running, and still nothing trains this run.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await api('GET', `/v1/models/${model}/runs/${runId}`)).body.reports.training).toBeUndefined();

    const PATH = fakeNvidiaSmi(
      path.join(stack.dataDir, 'gpu'),
      'echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-ctloop-test)"',
    );
    gpuWorker = await startWorkerProcess(stack, { script: 'workers/train-gpu.ts', env: { PATH } });
    expect(gpuWorker.output()).toMatch(/GPU check passed: GPU 0: NVIDIA H100/);

    const run = await waitForRun(api, model, runId, hasEnded, { timeoutMs: 60_000 });
    expect(run.outcome).toBe('promoted');
    expect(run.reports.training.device).toBe('cuda');
    expect(run.reports.trainingAttempts.taskQueue).toBe(stack.taskQueues.gpuTrain);
  });
});
