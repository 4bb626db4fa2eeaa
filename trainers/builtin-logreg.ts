import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { initTraining, type TrainState, toModel, trainEpoch } from '../domain/logistic-regression';
import type { Trainer } from './trainer';

/**
 * Logistic regression by full-batch gradient descent, in-process. Each epoch
 * is deterministic, so resuming from a checkpoint reproduces the weights of an
 * uninterrupted run exactly.
 */
export function createBuiltinLogRegTrainer(): Trainer {
  return {
    name: 'builtin-logreg',
    async train(job) {
      let state: TrainState = job.resumeFrom
        ? (job.resumeFrom.state as TrainState)
        : initTraining(job.X, job.y, job.params);
      let lastYield = performance.now();
      while (state.epoch < job.params.epochs) {
        job.signal.throwIfAborted();
        state = trainEpoch(state, job.X, job.y, job.params);
        job.onProgress({ epoch: state.epoch, loss: state.loss });
        if (state.epoch % job.checkpointEvery === 0 || state.epoch === job.params.epochs) {
          await job.onCheckpoint({ epoch: state.epoch, loss: state.loss, state });
        }
        // Let heartbeats and cancellation through on long runs.
        if (performance.now() - lastYield > 50) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
      }
      return { model: toModel(state, job.features), epochs: state.epoch, loss: state.loss };
    },
  };
}
