/**
 * One cold run of ctloop's drift report on two CSV files, in a fresh process
 * (bench/drift-vs-evidently.ts starts one per measurement):
 *
 *   node --import tsx bench/drift-cold.ts REFERENCE.csv CURRENT.csv COLUMNS THREADS [phases | sketch SKETCH]
 *
 * Without `phases`: driftReportOfData (the drift activity's code) once, on
 * THREADS threads; prints wall and CPU milliseconds, peak RSS and the report.
 * With `phases` (one thread): the same work step by step, each step timed:
 * reading both files, parsing them (csvColumns), then each feature's PSI and
 * KS (measureFeature: counted into buckets, ./domain/drift/bucketed); the
 * sum is the one-thread report's time with its parts laid open (here the
 * reads are not overlapped with the parse).
 * With `sketch SKETCH`: driftReportOfSketch instead, the reference given by
 * its sketch (made at training time; the reference file is not read).
 */
import { readFile } from 'node:fs/promises';
import { driftReportOfData, driftReportOfSketch } from '../activities/drift';
import { closeDriftThreads } from '../compute/drift-threads';
import { csvColumns } from '../domain/drift/csv-columns';
import { driftPolicySchema } from '../domain/drift/policy';
import { type DriftFeature, measureFeature } from '../domain/drift/report';
import { createLocalArtifactStore } from '../storage/artifact-store';

const [referenceFile, currentFile, columnsArg, threadsArg, mode, sketchFile] = process.argv.slice(2);
if (!referenceFile || !currentFile || !columnsArg || !threadsArg)
  throw new Error('usage: drift-cold.ts REFERENCE.csv CURRENT.csv COLUMNS THREADS [phases]');
const features: DriftFeature[] = Array.from({ length: Number(columnsArg) }, (_, c) => ({
  name: `x${c}`,
  kind: 'numeric',
}));
const cpuMs = (u: NodeJS.CpuUsage) => Math.round((u.user + u.system) / 1000);

if (mode === 'phases') {
  const phases: Record<string, number> = {};
  let at = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    phases[name] = Math.round(now - at);
    at = now;
  };
  const cpu = process.cpuUsage();
  const bytes = [await readFile(referenceFile), await readFile(currentFile)];
  lap('readMs');
  const [reference, current] = bytes.map((b) => csvColumns(b, features));
  lap('parseMs');
  const policy = driftPolicySchema.parse({});
  for (const f of features) measureFeature(f, { reference: reference!, current: current! }, policy);
  lap('measureMs');
  console.log(JSON.stringify({ phases, cpuMs: cpuMs(process.cpuUsage(cpu)) }));
} else {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const store = createLocalArtifactStore('.');
  const report =
    mode === 'sketch'
      ? await driftReportOfSketch(
          store,
          { sketchUri: `artifact://${sketchFile}`, currentUri: currentFile, features },
          Number(threadsArg),
        )
      : await driftReportOfData(
          store,
          { referenceUri: referenceFile, currentUri: currentFile, features },
          Number(threadsArg),
        );
  const used = process.cpuUsage(cpu);
  const wallMs = Math.round(performance.now() - start);
  await closeDriftThreads();
  console.log(
    JSON.stringify({
      wallMs,
      cpuMs: cpuMs(used),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      report,
    }),
  );
}
