import type { Worker } from 'node:worker_threads';
import type { TrainState } from '../domain/logistic-regression';
import { IN_FLIGHT, type LogRegTask, type LogRegThreadMessage } from './logreg-thread-messages';
import { startThread } from './start-thread';

/**
 * The builtin trainer's epochs on a thread of their own, its checkpoints
 * stored from the calling (main) thread.
 *
 * Why a thread: on the worker's main thread, every checkpoint's store (a
 * checksum, the artifact store's I/O, the heartbeat, the run record's
 * writes) and everything else the worker does (workflow tasks, heartbeats of
 * other activities) ran between training steps, on the training's own time.
 * Here the steps run on and the main thread only answers messages.
 *
 * The contract of `TrainJob.onCheckpoint` holds as before: one store at a
 * time, in step order (the thread posts a snapshot only once the store
 * holds the one before: `IN_FLIGHT`), and none runs once the promise has
 * settled (a cancellation or failure ends the thread and waits for the store
 * in flight). So the work a lost worker loses is still at most one interval
 * plus the steps trained during one store (at most another interval).
 *
 * Threads are reused: one that finished its job waits for the next (and does
 * not keep the process alive meanwhile); one that was stopped is ended.
 * Starting a thread from source (tsx) takes ~0.3 s, from a build ~30 ms.
 */
export interface LogRegThreadHooks {
  onProgress(progress: { step: number; total: number; loss: number }): void;
  onCheckpoint(checkpoint: { step: number; data: string; checksum: string }): Promise<void>;
  readonly signal: AbortSignal;
}

export function trainLogRegOnThread(
  task: Omit<LogRegTask, 'control'>,
  hooks: LogRegThreadHooks,
): Promise<TrainState> {
  const { signal } = hooks;
  if (signal.aborted) return Promise.reject(signal.reason);
  const control = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
  const flags = new Int32Array(control);
  const thread = idle.pop() ?? newThread();
  thread.ref();

  return new Promise<TrainState>((resolve, reject) => {
    let finished = false;
    /** The store in flight; it never rejects (a failure lands in `failure`). */
    let storing: Promise<void> | null = null;
    let failure: { error: unknown } | null = null;

    const finish = async (outcome: { state: TrainState } | { error: unknown }, reusable: boolean) => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      thread.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (reusable) release(thread);
      else void thread.terminate();
      // No store runs once the trainer has returned or thrown.
      if (storing) await storing;
      if ('error' in outcome) reject(outcome.error);
      else if (failure) reject(failure.error);
      else resolve(outcome.state);
    };
    const onAbort = () => void finish({ error: signal.reason }, false);
    const onError = (error: Error) => void finish({ error }, false);
    const onExit = (code: number) =>
      void finish({ error: new Error(`training thread exited with code ${code}`) }, false);
    const onMessage = (message: LogRegThreadMessage) => {
      if (finished) return;
      switch (message.kind) {
        case 'progress':
          hooks.onProgress(message);
          return;
        case 'checkpoint':
          storing = hooks
            .onCheckpoint({ step: message.step, data: message.data, checksum: message.checksum })
            .then(
              () => {
                Atomics.store(flags, IN_FLIGHT, 0);
                Atomics.notify(flags, IN_FLIGHT);
              },
              (error: unknown) => {
                failure ??= { error };
                // A failed store fails training now, not after the next interval.
                void finish({ error }, false);
              },
            )
            .finally(() => {
              storing = null;
            });
          return;
        case 'done':
          // The last checkpoint may still be in flight: finish waits for it and reports its failure.
          void finish({ state: message.state }, true);
          return;
        case 'failed':
          void finish({ error: new Error(message.message) }, true);
          return;
      }
    };

    signal.addEventListener('abort', onAbort, { once: true });
    thread.on('message', onMessage).on('error', onError).on('exit', onExit);
    thread.postMessage({ ...task, control } satisfies LogRegTask);
  });
}

/** Threads that finished a job, waiting for the next. */
const idle: Worker[] = [];
/** More idle threads than this are ended: a worker rarely trains more builtin jobs at once. */
const MAX_IDLE = 2;

function newThread(): Worker {
  const thread = startThread('./logreg-thread');
  // An idle thread that fails or ends leaves the pool (and its error is not an uncaught one).
  const drop = () => {
    const at = idle.indexOf(thread);
    if (at >= 0) idle.splice(at, 1);
  };
  thread.on('error', drop).on('exit', drop);
  return thread;
}

function release(thread: Worker): void {
  if (idle.length >= MAX_IDLE) {
    void thread.terminate();
    return;
  }
  thread.unref();
  idle.push(thread);
}
