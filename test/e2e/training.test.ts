import { execFileSync } from 'node:child_process';
import { readdir, truncate } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { inProcessApi } from '../../api/client';
import {
  fastPolicy,
  hasEnded,
  registerModel,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

const noApproval = { required: false, timeoutSeconds: 60 };

/** The process id of the running example trainer for this run's data (there is one at a time here). */
function trainerPid(): number | null {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes('numpy_trainer.py'));
  return line ? Number(line.trim().split(/\s+/)[0]) : null;
}

describe('training through the process protocol, with a budget per kind of failure', () => {
  let stack: Stack;
  let api: ReturnType<typeof inProcessApi>;
  let data: string;
  beforeAll(async () => {
    stack = await startStack({
      extraTrainers: {
        'always-crash': [
          inject('trainerPython'),
          '-c',
          "import sys; sys.stderr.write('loading data\\nRuntimeError: CUDA out of memory\\n'); sys.exit(3)",
        ],
      },
    });
    api = stack.api();
    data = await writeDataset(stack.dataDir, 'data', { rows: 1500, seed: 51 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Registers a model that needs no approval and trains as given, triggers a run, and returns its id. */
  async function trainRun(model: string, training: Record<string, unknown>): Promise<string> {
    await registerModel(api, model, data, fastPolicy({ approval: noApproval, training }));
    return (await trigger(api, model, { reason: 'manual' })).runId;
  }

  it('trains with a real Python trainer and serves the model it wrote', async () => {
    const model = 'python-trained';
    const runId = await trainRun(model, {
      trainer: 'python-numpy',
      params: { epochs: 120, learningRate: 0.5, seed: 3 },
      checkpointEvery: 40,
    });
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('promoted');
    expect(run.reports.training).toMatchObject({
      step: 120,
      total: 120,
      trainer: 'python-numpy',
      done: true,
    });
    expect(run.reports.training.lastCheckpoint.step).toBe(120);
    expect(run.reports.evaluation.candidate.accuracy).toBeGreaterThan(0.8);
    const served = await api('POST', `/v1/models/${model}/predict`, {
      features: { x1: 1, x2: -1, x3: 0, x4: null },
    });
    expect(served.status).toBe(200);
    expect(served.body.version).toBe(1);
    expect(served.body.probability).toBeGreaterThan(0);
    expect(served.body.probability).toBeLessThan(1);
  });

  it('on SIGTERM the trainer checkpoints and exits as preempted; the retry skips a truncated newest checkpoint and resumes from the previous good one', async () => {
    const model = 'preempted';
    const runId = await trainRun(model, {
      trainer: 'python-numpy',
      params: { epochs: 400, learningRate: 0.5, seed: 3, stepDelayMs: 10 },
      checkpointEvery: 50,
      retries: { preemptions: 3, crashes: 0, backoffSeconds: 3, maxBackoffSeconds: 3 },
    });
    await waitForRun(api, model, runId, (r) => (r.reports.training?.lastCheckpoint?.step ?? 0) >= 100);
    const pid = trainerPid();
    expect(pid).not.toBeNull();
    process.kill(pid!, 'SIGTERM');
    const preempted = await waitForRun(api, model, runId, (r) => r.live?.training.preemptions === 1);
    const stopStep = preempted.live.training.lastCheckpoint?.step;
    // The trainer wrote a checkpoint at the step where it was told to stop (not only at multiples of 50).
    expect(stopStep).toBeGreaterThanOrEqual(100);

    // During the backoff, damage the newest checkpoint as a crash mid-copy would.
    const dir = path.join(stack.artifactsDir, model, runId, 'checkpoints');
    const files = (await readdir(dir)).sort();
    const newest = files.at(-1)!;
    expect(newest).toBe(`step-${String(stopStep).padStart(8, '0')}.npz`);
    await truncate(path.join(dir, newest), 10);

    const run = await waitForRun(api, model, runId, hasEnded);
    expect(run.outcome).toBe('promoted');
    const previousGood = Number(files.at(-2)!.match(/step-(\d+)/)![1]);
    expect(run.reports.training.resumedFromStep).toBe(previousGood);
    expect(run.reports.trainingAttempts).toMatchObject({ attempts: 2, preemptions: 1, crashes: 0 });
    expect(run.reports.trainingAttempts.result.skippedCheckpoints).toEqual([
      expect.stringContaining(`${newest} (checksum mismatch)`),
    ]);
    expect(run.reports.training.step).toBe(400);
  });

  it('ends failed after the crash budget, with the tail of the trainer stderr in the run', async () => {
    const model = 'crashing';
    const runId = await trainRun(model, { trainer: 'always-crash', retries: { crashes: 2, preemptions: 5 } });
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('failed');
    expect(run.outcomeReason).toMatch(/trainer failed 3 times \(budget 2\)/);
    expect(run.outcomeReason).toMatch(/CUDA out of memory/);
    expect(run.reports.trainingAttempts).toMatchObject({ attempts: 3, crashes: 3, preemptions: 0 });
    expect((await api('GET', `/v1/models/${model}/versions`)).body.versions).toEqual([]);
  });

  it('does not retry invalid hyper-parameters', async () => {
    const model = 'bad-params';
    const runId = await trainRun(model, { params: { epochs: -5, learningRate: 'fast' } });
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('failed');
    expect(run.outcomeReason).toMatch(/invalid hyper-parameters.*epochs/);
    expect(run.reports.trainingAttempts).toMatchObject({ attempts: 1, crashes: 0, preemptions: 0 });
  });

  it('cancelling a run stops its trainer process promptly and records who cancelled', async () => {
    const model = 'cancelled';
    const runId = await trainRun(model, {
      trainer: 'python-numpy',
      params: { epochs: 5000, stepDelayMs: 10 },
      checkpointEvery: 50,
    });
    await waitForRun(api, model, runId, (r) => (r.reports.training?.lastCheckpoint?.step ?? 0) >= 50);
    expect(trainerPid()).not.toBeNull();

    const asked = Date.now();
    const res = await stack.api('olga')('POST', `/v1/models/${model}/runs/${runId}/cancel`, {
      reason: 'trained on the wrong export',
    });
    expect(res.status).toBe(202);
    const run = await waitForRun(api, model, runId, hasEnded);
    const stoppedAfterMs = Date.now() - asked;

    expect(run.outcome).toBe('cancelled');
    // The run ends only after the trainer stopped: no trainer process is left.
    expect(trainerPid()).toBeNull();
    expect(stoppedAfterMs).toBeLessThan(10_000);
    expect(run.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'cancel_requested', actor: 'olga' })]),
    );
    expect((await api('GET', `/v1/models/${model}/versions`)).body.versions).toEqual([]);
  });
});
