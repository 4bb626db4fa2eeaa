import type { DatasetThreadMessage } from './dataset-thread';
import {
  type DatasetPhase,
  DatasetProblem,
  type DatasetTask,
  type ScoredHoldout,
  scoreHoldout,
  type ValidatedText,
  validateText,
} from './dataset-work';
import { startThread } from './start-thread';

type ResultOf<T extends DatasetTask> = T extends { kind: 'validate' } ? ValidatedText : ScoredHoldout;

/**
 * Up to this many characters of CSV, a task runs on the caller's thread: it
 * takes milliseconds (a 5,000-row file: ~10 ms), where starting a thread
 * takes ~0.3 s, twice in every run (validation, evaluation). Above it, the
 * task gets a thread.
 */
export const INLINE_TASK_CHARS = 512 * 1024;

/**
 * Runs one validation or evaluation task. A large one runs on a thread of its
 * own, so that the worker's event loop stays free for workflow tasks,
 * queries, updates and heartbeats while the dataset is parsed and scored: a
 * thread a task (they come once per run and last seconds to minutes), and
 * aborting is ending the thread. A small one (`inlineMaxChars`) runs here at
 * once. Either way a `DatasetProblem` is thrown as one.
 */
export function runDatasetTask<T extends DatasetTask>(
  task: T,
  opts: { onPhase?: (phase: DatasetPhase) => void; signal?: AbortSignal; inlineMaxChars?: number } = {},
): Promise<ResultOf<T>> {
  if (task.text.length <= (opts.inlineMaxChars ?? INLINE_TASK_CHARS)) return runInline(task, opts);
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

function runInline<T extends DatasetTask>(
  task: T,
  opts: { onPhase?: (phase: DatasetPhase) => void; signal?: AbortSignal },
): Promise<ResultOf<T>> {
  if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
  const phase = (p: DatasetPhase) => opts.onPhase?.(p);
  try {
    const result = task.kind === 'validate' ? validateText(task, phase) : scoreHoldout(task, phase);
    return Promise.resolve(result as ResultOf<T>);
  } catch (err) {
    return Promise.reject(err);
  }
}
