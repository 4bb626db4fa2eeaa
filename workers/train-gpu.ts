import { loadConfig } from '../config/env';
import { runWorkerProcess } from './runtime';

/** Polls only the GPU training queue; refuses to start on a machine without a visible GPU. */
runWorkerProcess(loadConfig(), ['train-gpu']).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
