import type { DatasetThreadMessage } from './dataset-thread';
import {
  type DatasetPhase,
  DatasetProblem,
  type DatasetTask,
  type ScoredHoldout,
  type ValidatedText,
} from './dataset-work';
import { startThread } from './start-thread';

type ResultOf<T extends DatasetTask> = T extends { kind: 'validate' } ? ValidatedText : ScoredHoldout;

/**
 * Runs one validation or evaluation task on a thread of its own, so that the
 * worker's event loop stays free for workflow tasks, queries, updates and
 * heartbeats while a large dataset is parsed and scored. A thread a task:
 * these tasks come once per run and last seconds to minutes, so the thread's
 * start-up (~0.3 s) does not matter, and aborting is ending the thread.
 * A `DatasetProblem` thrown on the thread is thrown here as one.
 */
export function runDatasetTask<T extends DatasetTask>(
  task: T,
  opts: { onPhase?: (phase: DatasetPhase) => void; signal?: AbortSignal } = {},
): Promise<ResultOf<T>> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason);
    const thread = startThread('./dataset-thread');
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      void thread.terminate();
      fn();
    };
    const onAbort = () => settle(() => reject(opts.signal!.reason));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    thread.on('message', (message: DatasetThreadMessage) => {
      if (message.type === 'phase') opts.onPhase?.(message.phase);
      else if (message.type === 'done') settle(() => resolve(message.result as ResultOf<T>));
      else
        settle(() =>
          reject(message.problem ? new DatasetProblem(message.message) : new Error(message.message)),
        );
    });
    thread.on('error', (err) => settle(() => reject(err)));
    thread.on('exit', (code) => settle(() => reject(new Error(`dataset thread exited with code ${code}`))));
    thread.postMessage(task);
  });
}
