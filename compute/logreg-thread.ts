/**
 * The body of a training thread (see ./logreg-threads): runs the builtin
 * trainer's epochs for one job at a time, off the worker's main thread.
 *
 * The loop never waits on the event loop: it trains, posts progress and
 * snapshots, and blocks only on `Atomics.wait`, for the checkpoint in flight
 * (the main thread clears the flag once the store has it) or for a step's
 * pause. Stopping it (cancellation, a failed store) is ending the thread.
 */
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { parseCsv } from '../domain/csv';
import { toMatrix } from '../domain/data-validation';
import { initTraining, type TrainState, trainEpoch } from '../domain/logistic-regression';
import { sha256 } from '../storage/atomic-file';
import { IN_FLIGHT, type LogRegTask, type LogRegThreadMessage, PAUSE } from './logreg-thread-messages';

if (!parentPort) throw new Error('compute/logreg-thread runs as a worker thread only');
const port = parentPort;

/**
 * Progress is posted at most this often (and at every checkpoint and the
 * last step): the activity heartbeats it, and Temporal's client throttles
 * heartbeats anyway, so a run of millions of microsecond epochs does not
 * flood the main thread with messages.
 */
const PROGRESS_EVERY_MS = 10;

port.on('message', (task: LogRegTask) => {
  try {
    port.postMessage({ kind: 'done', state: train(task) } satisfies LogRegThreadMessage);
  } catch (err) {
    port.postMessage({ kind: 'failed', message: (err as Error).message } satisfies LogRegThreadMessage);
  }
});

function train(task: LogRegTask): TrainState {
  const { params } = task;
  const control = new Int32Array(task.control);
  const { X, y } = toMatrix(parseCsv(readFileSync(task.dataPath, 'utf8')), {
    features: task.features.map((name) => ({ name, maxNullRate: 1 })),
    label: task.label,
  });
  let state: TrainState = task.resumeFromPath
    ? (JSON.parse(readFileSync(task.resumeFromPath, 'utf8')) as TrainState)
    : initTraining(X, y, params);
  let lastProgress = Number.NEGATIVE_INFINITY;
  while (state.epoch < params.epochs) {
    state = trainEpoch(state, X, y, params);
    const checkpoint = state.epoch % task.checkpointEvery === 0 || state.epoch === params.epochs;
    const now = performance.now();
    if (checkpoint || now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      post({ kind: 'progress', step: state.epoch, total: params.epochs, loss: state.loss });
    }
    if (checkpoint) {
      // Backpressure: the next snapshot waits until the store holds the last one.
      while (Atomics.load(control, IN_FLIGHT) === 1) Atomics.wait(control, IN_FLIGHT, 1);
      // The snapshot: a few numbers, serialised in microseconds; stored while training goes on.
      const data = JSON.stringify(state);
      Atomics.store(control, IN_FLIGHT, 1);
      post({ kind: 'checkpoint', step: state.epoch, data, checksum: sha256(data) });
    }
    if (params.stepDelayMs > 0) Atomics.wait(control, PAUSE, 0, params.stepDelayMs);
  }
  return state;
}

function post(message: LogRegThreadMessage): void {
  port.postMessage(message);
}
