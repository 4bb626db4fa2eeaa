import path from 'node:path';
import { z } from 'zod';
import { trainLogRegOnThread } from '../compute/logreg-threads';
import { toModel } from '../domain/logistic-regression';
import { writeFileAtomically } from '../storage/atomic-file';
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
 *
 * The epochs run on a thread of their own (compute/logreg-threads.ts); this
 * thread stores each checkpoint meanwhile, one at a time: the next snapshot
 * waits until the store holds the one before.
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
      const state = await trainLogRegOnThread(
        {
          dataPath: job.dataPath,
          features: job.features,
          label: job.label,
          params: parsed.data,
          checkpointEvery: job.checkpointEvery,
          resumeFromPath: job.resumeFrom?.path ?? null,
        },
        {
          signal: job.signal,
          onProgress: ({ step, total, loss }) => job.onProgress({ step, total, metrics: { loss } }),
          onCheckpoint: ({ step, data, checksum }) =>
            job.onCheckpoint({ step, checksum, data, extension: '.json' }),
        },
      );
      const artifactPath = path.join(job.outputDir, 'model.json');
      await writeFileAtomically(artifactPath, JSON.stringify(toModel(state, job.features)));
      return { artifactPath, steps: state.epoch, metrics: { loss: state.loss } };
    },
  };
}
