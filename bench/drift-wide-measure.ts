/**
 * The timed half of bench/drift-wide.ts, in a fresh process of its own (cold:
 * no JIT warm-up, no page of the batch decoded before; peak RSS is this
 * process's alone):
 *
 *   node --import tsx bench/drift-wide-measure.ts SKETCH CURRENT.parquet COLUMNS REPORT.json [THREADS]
 *
 * Runs the drift activity's sketch path, driftReportOfSketch on THREADS (default 1) threads (the sketch
 * read and decoded, the batch read 16 columns at a time, each counted into
 * its sketch, BH across the columns, the verdict), writes the report to
 * REPORT.json and prints one JSON line: wall and CPU milliseconds, peak RSS.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { driftReportOfSketch } from '../activities/drift';
import { closeDriftThreads } from '../compute/drift-threads';
import type { DriftFeature } from '../domain/drift/report';
import { createLocalArtifactStore } from '../storage/artifact-store';

const [sketchFile, currentFile, columnsArg, reportFile, threadsArg = '1'] = process.argv.slice(2);
if (!sketchFile || !currentFile || !columnsArg || !reportFile)
  throw new Error('usage: drift-wide-measure.ts SKETCH CURRENT.parquet COLUMNS REPORT.json');
const features: DriftFeature[] = Array.from({ length: Number(columnsArg) }, (_, c) => ({
  name: `x${c}`,
  kind: 'numeric',
}));
const store = createLocalArtifactStore(path.dirname(sketchFile));
const start = performance.now();
const cpu = process.cpuUsage();
const report = await driftReportOfSketch(
  store,
  { sketchUri: `artifact://${path.basename(sketchFile)}`, currentUri: currentFile, features },
  Number(threadsArg),
);
const used = process.cpuUsage(cpu);
const wallMs = performance.now() - start;
if (!report) throw new Error('the sketch does not serve the default policy');
await writeFile(reportFile, JSON.stringify(report));
await closeDriftThreads();
console.log(
  JSON.stringify({
    wallMs: Math.round(wallMs),
    cpuMs: Math.round((used.user + used.system) / 1000),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    drifted: report.verdict.drifted,
    share: report.verdict.share,
  }),
);
