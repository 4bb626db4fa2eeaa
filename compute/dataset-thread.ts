/**
 * The body of a dataset thread (see ./dataset-threads): runs one validation or
 * evaluation task, reporting each phase as it starts, and answers with the
 * result or the error.
 */
import { parentPort } from 'node:worker_threads';
import {
  type DatasetPhase,
  DatasetProblem,
  type DatasetTask,
  scoreHoldout,
  validateText,
} from './dataset-work';

if (!parentPort) throw new Error('compute/dataset-thread runs as a worker thread only');
const port = parentPort;

export type DatasetThreadMessage =
  | { readonly type: 'phase'; readonly phase: DatasetPhase }
  | { readonly type: 'done'; readonly result: unknown }
  | { readonly type: 'failed'; readonly message: string; readonly problem: boolean };

port.once('message', (task: DatasetTask) => {
  const send = (message: DatasetThreadMessage) => port.postMessage(message);
  const phase = (p: DatasetPhase) => send({ type: 'phase', phase: p });
  try {
    const result = task.kind === 'validate' ? validateText(task, phase) : scoreHoldout(task, phase);
    send({ type: 'done', result });
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message, problem: err instanceof DatasetProblem });
  }
});
