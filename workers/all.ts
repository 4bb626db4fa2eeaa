import { loadConfig } from '../config/env';
import { runWorkerProcess } from './runtime';

/** Control and training workers in one process (development; required with embedded PGlite). */
runWorkerProcess(loadConfig(), ['control', 'train']).catch((err) => {
  console.error(err);
  process.exit(1);
});
