import { loadConfig } from '../config/env';
import { runWorkerProcess } from './runtime';

runWorkerProcess(loadConfig(), ['train']).catch((err) => {
  console.error(err);
  process.exit(1);
});
