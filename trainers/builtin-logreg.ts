import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep, setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';
import { parseCsv } from '../domain/csv';
import { toMatrix } from '../domain/data-validation';
import { initTraining, type TrainState, toModel, trainEpoch } from '../domain/logistic-regression';
import { writeFileAtomically } from '../storage/atomic-file';
import { createCheckpointWriter } from './checkpoint-writer';
import { type Trainer, TrainerError } from './trainer';

export const logRegParamsSchema = z.object({
  epochs: z.number().int().min(1).max(1_000_000).default(200),
  learningRate: z.number().positive().max(10).default(0.5),
  l2: z.number().min(0).max(10).default(0.001),
  seed: z.number().int().default(42),
  /** A pause after each epoch, in milliseconds: a run slow enough to preempt or kill mid-training, whatever the machine's speed. */
  stepDelayMs: z.number().min(0).max(10_000).default(0),
});

/**
 * Logistic regression by full-batch gradient descent, in-process. Each epoch
 * is deterministic, so resuming from a checkpoint reproduces the weights of an
 * uninterrupted run exactly. A step is an epoch.
 */
export function createBuiltinLogRegTrainer(): Trainer {
  return {
    name: 'builtin-logreg',
    async train(job) {
      const parsed = logRegParamsSchema.safeParse(job.params);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        throw new TrainerError('invalid_params', `invalid hyper-parameters for builtin-logreg: ${problems}`);
      }
      const params = parsed.data;
      const { X, y } = toMatrix(parseCsv(await readFile(job.dataPath, 'utf8')), {
        features: job.features.map((name) => ({ name, maxNullRate: 1 })),
        label: job.label,
      });
      let state: TrainState = job.resumeFrom
        ? (JSON.parse(await readFile(job.resumeFrom.path, 'utf8')) as TrainState)
        : initTraining(X, y, params);
      const checkpoints = createCheckpointWriter(job);
      let lastYield = performance.now();
      try {
        while (state.epoch < params.epochs) {
          job.signal.throwIfAborted();
          checkpoints.throwIfFailed();
          state = trainEpoch(state, X, y, params);
          job.onProgress({ step: state.epoch, total: params.epochs, metrics: { loss: state.loss } });
          if (state.epoch % job.checkpointEvery === 0 || state.epoch === params.epochs) {
            // The snapshot: a few numbers, serialised in microseconds; written while training goes on.
            await checkpoints.submit(state.epoch, JSON.stringify(state));
          }
          if (params.stepDelayMs > 0) {
            await sleep(params.stepDelayMs);
            lastYield = performance.now();
          } else if (checkpoints.writing) {
            await checkpoints.yieldToWrite();
            lastYield = performance.now();
          } else if (performance.now() - lastYield > 50) {
            // Let heartbeats and cancellation through on long runs.
            await yieldToEventLoop();
            lastYield = performance.now();
          }
        }
        await checkpoints.drain();
      } finally {
        // Cancelled or failed: the checkpoint in flight is stored (or fails) before the activity goes on.
        await checkpoints.settle();
      }
      const artifactPath = path.join(job.outputDir, 'model.json');
      await writeFileAtomically(artifactPath, JSON.stringify(toModel(state, job.features)));
      return { artifactPath, steps: state.epoch, metrics: { loss: state.loss } };
    },
  };
}
