import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapChampion,
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  sendTraffic,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

describe('a run survives the loss of its worker process', () => {
  let stack: Stack;
  let worker: WorkerProcess | null = null;
  beforeAll(async () => {
    stack = await startStack({ workers: false });
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await stack?.close();
  });

  it('resumes training from the last checkpoint on a new worker, keeps waiting for approval across another loss, and promotes once', async () => {
    const api = stack.api();
    const model = 'durable';
    worker = await startWorkerProcess(stack);
    const baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 41 });
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));

    // Training that lasts at least 9.6 s on any machine (8 ms a step), so the worker dies in the middle of it.
    const slow = fastPolicy({
      training: {
        params: { epochs: 1200, learningRate: 0.5, l2: 0.001, seed: 7, stepDelayMs: 8 },
        checkpointEvery: 100,
        heartbeatTimeoutSeconds: 5,
      },
    });
    expect((await api('PUT', `/v1/models/${model}`, { policy: slow })).status).toBe(200);
    const drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 20_000, seed: 42, shift: 1.5 });
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });

    const training = await waitForRun(
      api,
      model,
      runId,
      (r) => (r.reports.training?.lastCheckpoint?.step ?? 0) >= 300,
      {
        timeoutMs: 60_000,
      },
    );
    expect(training.stage).toBe('train');
    // Heartbeats reach the server at most a second after the checkpoint they announce.
    await new Promise((r) => setTimeout(r, 1_500));
    await worker.kill('SIGKILL');
    // The run's record of progress is written about once a second, so it may lag the heartbeats.
    const atKill = (await api('GET', `/v1/models/${model}/runs/${runId}`)).body.reports.training;
    // The kill hit training, not a run that had already trained.
    expect(atKill.done ?? false).toBe(false);
    expect(atKill.step).toBeLessThan(1200);

    worker = await startWorkerProcess(stack);
    const waiting = await waitForRun(api, model, runId, inStage('approve'), { timeoutMs: 90_000 });
    // Resumed from a checkpoint taken before the kill, not from the start.
    expect(waiting.reports.training.resumedFromStep).toBeGreaterThanOrEqual(300);
    expect(waiting.reports.training.resumedFromStep).toBeLessThan(1200);
    expect(waiting.reports.training.step).toBe(1200);
    expect(waiting.live.training).toMatchObject({ attempts: 2, preemptions: 1, crashes: 0 });
    // Work lost with the worker: the steps after the last heartbeated checkpoint. Heartbeats reach
    // the server within a second, and the builtin trainer trains on while a checkpoint is stored
    // but not past the next one, so at most one checkpoint interval, plus the steps trained during
    // one store (counted as 2: storing this small checkpoint takes a few ms, a step 8 ms), plus one
    // second of steps. The reported rate averages over the attempt, start-up included, so it
    // understates the running rate; the second of steps is counted at 1.5 × that average.
    expect(waiting.live.training.lostSteps).toBeLessThanOrEqual(
      100 + 2 + Math.ceil(1.5 * atKill.stepsPerSecond),
    );
    expect(waiting.live.training.lastCheckpoint?.step).toBe(waiting.reports.training.resumedFromStep);
    expect(worker.output()).toMatch(/resuming training from checkpoint/);

    // The run waits on a durable timer in Temporal, not in the worker: lose the worker again.
    await worker.kill('SIGKILL');
    worker = await startWorkerProcess(stack);
    expect((await decide(stack.api('alice'), model, runId, 'approve', 'after two crashes')).status).toBe(200);

    let done = false;
    const traffic = sendTraffic(api, model, await readFile(drifted, 'utf8'), () => done);
    const run = await waitForRun(api, model, runId, hasEnded, { timeoutMs: 90_000 });
    done = true;
    await traffic;

    expect(run.outcome).toBe('promoted');
    // Nothing registered or promoted twice.
    const versions = (await api('GET', `/v1/models/${model}/versions`)).body;
    expect(versions.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(versions.champion).toBe(2);
    const lineage = (await api('GET', `/v1/models/${model}/versions/2`)).body.lineage;
    expect(lineage.aliasChanges).toHaveLength(1);
    expect(lineage.audit.filter((e: { kind: string }) => e.kind === 'approval')).toHaveLength(1);
    expect(lineage.audit.filter((e: { kind: string }) => e.kind === 'promotion')).toHaveLength(1);
  });
});
