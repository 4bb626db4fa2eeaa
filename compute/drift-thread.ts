/**
 * The body of a drift computation thread (see ./drift-threads): parses one
 * CSV file's bytes into columns, or measures a group of features, with the
 * same pure functions the single-thread path calls. Numeric columns go back
 * as transferred buffers, not copies.
 */
import { parentPort } from 'node:worker_threads';
import { csvColumns } from '../domain/drift/csv-columns';
import { type MeasuredFeature, measureFeature } from '../domain/drift/report';
import { measureFeatureAgainstSketch } from '../domain/drift/sketch-drift';
import { columnBuffers, type ThreadReply, type ThreadTask } from './drift-thread-messages';
import { parquetFileColumnGroups } from './parquet-file';

if (!parentPort) throw new Error('compute/drift-thread runs as a worker thread only');
const port = parentPort;

port.on('message', async (task: ThreadTask) => {
  try {
    if (task.kind === 'measure-sketched-parquet') {
      const measured: MeasuredFeature[] = [];
      const features = task.features.map((f) => f.feature);
      for await (const current of parquetFileColumnGroups(task.file, features, task.group)) {
        for (const feature of features) {
          if (Object.hasOwn(current, feature.name))
            measured.push(measureFeatureAgainstSketch(feature, task.sketch, current, task.policy));
        }
      }
      reply({ id: task.id, ok: true, measured });
      return;
    }
    if (task.kind === 'parse') {
      const columns = csvColumns(task.bytes, task.features);
      reply({ id: task.id, ok: true, columns }, columnBuffers(columns));
      return;
    }
    const measured: MeasuredFeature[] = [];
    for (const { feature, index } of task.features) {
      try {
        measured.push(measureFeature(feature, task, task.policy));
      } catch (err) {
        reply({ id: task.id, ok: false, message: (err as Error).message, featureIndex: index });
        return;
      }
    }
    reply({ id: task.id, ok: true, measured });
  } catch (err) {
    reply({ id: task.id, ok: false, message: (err as Error).message });
  }
});

function reply(message: ThreadReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}
