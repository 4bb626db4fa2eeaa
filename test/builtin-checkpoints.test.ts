import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../domain/csv';
import { toMatrix } from '../domain/data-validation';
import { initTraining, toModel, trainEpoch } from '../domain/logistic-regression';
import { generateDataset } from '../domain/synthetic-data';
import { sha256 } from '../storage/atomic-file';
import { createBuiltinLogRegTrainer } from '../trainers/builtin-logreg';
import type { TrainJob } from '../trainers/trainer';

const EVERY = 10;
const EPOCHS = 200;

/**
 * The builtin trainer with a store as slow as the test wants (`storeMs`
 * per checkpoint). Small data, so an epoch takes well under a millisecond
 * and a store lasts many epochs: training that ran ahead of its stored
 * checkpoints would show at once. Records, at every step, how far training
 * is past the last stored checkpoint and past the one being stored.
 */
function slowStoreJob(opts: {
  storeMs: number;
  stepDelayMs?: number;
  fail?: (step: number) => boolean;
  signal?: AbortSignal;
}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctloop-builtin-ckpt-'));
  const dataPath = path.join(dir, 'train.csv');
  writeFileSync(dataPath, generateDataset({ rows: 200, seed: 3 }));
  mkdirSync(path.join(dir, 'ckpt'));
  mkdirSync(path.join(dir, 'out'));
  const log = {
    stored: [] as number[],
    started: [] as number[],
    inFlight: 0,
    maxInFlight: 0,
    storing: null as number | null,
    /** Per step: steps past the last stored checkpoint, and past the one in `onCheckpoint` (or null). */
    behind: [] as { step: number; pastStored: number; pastInFlight: number | null }[],
    lastStep: 0,
  };
  const job: TrainJob = {
    dataPath,
    features: ['x1', 'x2', 'x3', 'x4'],
    label: 'label',
    params: { epochs: EPOCHS, learningRate: 0.5, l2: 0.001, seed: 7, stepDelayMs: opts.stepDelayMs ?? 0 },
    checkpointEvery: EVERY,
    checkpointDir: path.join(dir, 'ckpt'),
    outputDir: path.join(dir, 'out'),
    resumeFrom: null,
    device: 'cpu',
    signal: opts.signal ?? new AbortController().signal,
    onProgress({ step }) {
      log.lastStep = step;
      log.behind.push({
        step,
        pastStored: step - (log.stored.at(-1) ?? 0),
        pastInFlight: log.storing === null ? null : step - log.storing,
      });
    },
    async onCheckpoint(c) {
      log.started.push(c.step);
      log.inFlight++;
      log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
      log.storing = c.step;
      try {
        // What the activity checks before it stores a checkpoint.
        expect('data' in c && sha256(c.data)).toBe(c.checksum);
        await sleep(opts.storeMs);
        if (opts.fail?.(c.step)) throw new Error(`store failed at step ${c.step}`);
        log.stored.push(c.step);
      } finally {
        log.storing = null;
        log.inFlight--;
      }
    },
  };
  return { job, log };
}

describe('the builtin trainer writes checkpoints beside training', () => {
  it('stores every checkpoint, one at a time and in order, and returns only once the last is stored', async () => {
    const { job, log } = slowStoreJob({ storeMs: 3 });
    const result = await createBuiltinLogRegTrainer().train(job);
    expect(result.steps).toBe(EPOCHS);
    expect(log.maxInFlight).toBe(1);
    const all = Array.from({ length: EPOCHS / EVERY }, (_, i) => (i + 1) * EVERY);
    expect(log.started).toEqual(all);
    expect(log.stored).toEqual(all);
  });

  it('never trains more than one interval plus the steps of the store in flight (at most another interval) past its last stored checkpoint', async () => {
    // A store that lasts far longer than an interval of these epochs: the trainer must wait for it.
    const { job, log } = slowStoreJob({ storeMs: 20 });
    await createBuiltinLogRegTrainer().train(job);
    for (const b of log.behind) {
      // The newest snapshot taken before this step; unless stored, it is the one in flight.
      const snapshot = Math.floor((b.step - 1) / EVERY) * EVERY;
      const stepsDuringItsWrite = b.step - snapshot;
      const bound = b.step - b.pastStored >= snapshot ? EVERY : EVERY + Math.min(stepsDuringItsWrite, EVERY);
      expect(b.pastStored, `at step ${b.step}`).toBeLessThanOrEqual(bound);
    }
    // The bound was reached: training ran a whole interval past the snapshot being stored.
    expect(Math.max(...log.behind.map((b) => b.pastStored))).toBe(2 * EVERY);
    // The store was slow enough that training did run on while a checkpoint was being stored.
    expect(log.behind.some((b) => (b.pastInFlight ?? 0) > 0)).toBe(true);
  });

  it('stops at a failed store and reports its error', async () => {
    const { job, log } = slowStoreJob({ storeMs: 1, fail: (step) => step === 3 * EVERY });
    await expect(createBuiltinLogRegTrainer().train(job)).rejects.toThrow(
      `store failed at step ${3 * EVERY}`,
    );
    expect(log.started.at(-1)).toBe(3 * EVERY);
    expect(log.lastStep).toBeLessThanOrEqual(5 * EVERY);
  });

  it('when cancelled, finishes storing the checkpoint in flight before it throws, and starts no other', async () => {
    const abort = new AbortController();
    // Steps slow enough (2 ms, 10 to an interval) that the cancellation is seen between checkpoints,
    // while the 10 ms store still runs, not when the next checkpoint waits for it.
    const { job, log } = slowStoreJob({ storeMs: 10, stepDelayMs: 2, signal: abort.signal });
    const training = createBuiltinLogRegTrainer().train(job);
    while (log.storing === null) await sleep(1);
    const storing = log.storing;
    abort.abort(new Error('cancelled'));
    await expect(training).rejects.toThrow('cancelled');
    // Nothing of the trainer's is left running once it has thrown.
    expect(log.inFlight).toBe(0);
    expect(log.stored.at(-1)).toBe(storing);
    expect(log.started.at(-1)).toBe(storing);
  });

  it('trains on while the main thread is busy: the steps run on a thread of their own', async () => {
    // ~1 ms a step, a checkpoint every 1,000; the main thread then blocks for 300 ms, as a long
    // workflow task would. (With checkpoints due meanwhile, the thread would wait for their stores.)
    const { job, log } = slowStoreJob({ storeMs: 1, stepDelayMs: 1 });
    const long = { ...job, params: { ...job.params, epochs: 2000 }, checkpointEvery: 1000 };
    const training = createBuiltinLogRegTrainer().train(long);
    while (log.lastStep < 20) await sleep(1);
    const before = log.lastStep;
    const until = performance.now() + 300;
    while (performance.now() < until) {
      // busy: no message is handled, no timer fires
    }
    await sleep(20);
    const after = log.lastStep;
    await training;
    // On the calling thread, no step could run during the block; on its own thread, ~250 did.
    expect(after - before).toBeGreaterThan(50);
    expect(log.stored).toEqual([1000, 2000]);
  });

  it('fails a job whose data it cannot read with the reason, and trains the next job as before', async () => {
    const bad = slowStoreJob({ storeMs: 1 });
    writeFileSync(bad.job.dataPath, 'x1,x2\n1,2\n');
    await expect(createBuiltinLogRegTrainer().train(bad.job)).rejects.toThrow(
      "toMatrix: missing column 'x3'",
    );
    expect(bad.log.started).toEqual([]);
    const good = slowStoreJob({ storeMs: 1 });
    const result = await createBuiltinLogRegTrainer().train(good.job);
    expect(result.steps).toBe(EPOCHS);
    expect(good.log.stored.at(-1)).toBe(EPOCHS);
  });

  it('gives the same model as training on the calling thread, step for step', async () => {
    const { job } = slowStoreJob({ storeMs: 0 });
    const result = await createBuiltinLogRegTrainer().train(job);
    const { X, y } = toMatrix(parseCsv(readFileSync(job.dataPath, 'utf8')), {
      features: job.features.map((name) => ({ name, maxNullRate: 1 })),
      label: job.label,
    });
    const params = { epochs: EPOCHS, learningRate: 0.5, l2: 0.001, seed: 7 };
    let state = initTraining(X, y, params);
    while (state.epoch < EPOCHS) state = trainEpoch(state, X, y, params);
    expect(JSON.parse(readFileSync(result.artifactPath, 'utf8'))).toEqual(
      JSON.parse(JSON.stringify(toModel(state, job.features))),
    );
  });
});
