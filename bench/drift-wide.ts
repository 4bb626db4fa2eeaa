/**
 * A wide current batch against a version's reference sketch: the drift
 * activity's sketch path on 1,000,000 rows × 1,000 numeric columns.
 *
 *   npm run bench -- drift-wide        (or: npx tsx bench/drift-wide.ts [--rows N] [--columns N] [--check N])
 *
 * Data (generated once into .data/bench/ by bench/wide_parquet.py, numpy +
 * pyarrow from scripts/ensure-evidently's environment): a reference and a
 * current Parquet file of rows × columns float64 cells, seeded normals, the
 * current batch with every fifth column shifted by 0.05 sd and every tenth
 * also scaled by 1.3. Parquet, not CSV: a 1M × 1k CSV is about 10 GB of text
 * that must be parsed whole, where Parquet float columns (8 GB, PLAIN, no
 * compression: random doubles do not compress) are read one column group at a
 * time, so memory stays bounded by the group (16 columns, 128 MB), not the
 * batch. This is the format a feature pipeline writing a million rows a batch
 * would use, and one the drift activity already reads.
 *
 * Steps: the reference sketch, as training makes it (storeReferenceSketch:
 * the reference read 16 columns at a time, each sorted once; timed apart, it
 * is a training-time cost), then the timed run in a fresh process
 * (bench/drift-wide-measure.ts: driftReportOfSketch on one thread, cold),
 * with its wall time, CPU time and peak RSS; then the check: on --check
 * columns spread over the file the exact report (driftReport on both whole
 * columns) against the sketched one: PSI and its bins equal, the exact KS D
 * within [statistic, statisticUpperBound].
 *
 * Writes bench/results/drift-wide.json and prints it. The generated files
 * (16 GB of Parquet, the 64 MB sketch) stay in .data/bench/ for the next run
 * (the sketch takes minutes to build); `rm .data/bench/wide-*` removes them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { storeReferenceSketch } from '../activities/drift';
import { driftThreadCount } from '../compute/drift-threads';
import { parquetColumnsOf } from '../domain/drift/parquet-columns';
import { SKETCH_RESOLUTION } from '../domain/drift/reference-sketch';
import {
  type DriftFeature,
  type DriftReport,
  driftReport,
  type NumericFeatureDrift,
} from '../domain/drift/report';
import { createLocalArtifactStore } from '../storage/artifact-store';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`bench/drift-wide: --${name} must be a positive integer`);
  return value;
}

const rows = option('rows', 1_000_000);
const columns = option('columns', 1000);
const checkColumns = Math.min(option('check', 10), columns);
const goalMs = 60_000;
const features: DriftFeature[] = Array.from({ length: columns }, (_, c) => ({
  name: `x${c}`,
  kind: 'numeric',
}));

const dir = path.join('.data', 'bench');
await mkdir(dir, { recursive: true });
const referenceFile = path.join(dir, `wide-reference-${rows}x${columns}.parquet`);
const currentFile = path.join(dir, `wide-current-${rows}x${columns}.parquet`);
const sketchKey = `wide-reference-${rows}x${columns}.sketch.bin`;
const sketchFile = path.join(dir, sketchKey);

const generated: Record<string, number> = {};
for (const [file, seed, shifted] of [
  [referenceFile, 1, '0'],
  [currentFile, 2, '1'],
] as const) {
  if (existsSync(file)) continue;
  const python = execFileSync('bash', ['scripts/ensure-evidently'], { encoding: 'utf8' }).trim();
  const start = performance.now();
  execFileSync(
    python,
    ['bench/wide_parquet.py', file, String(rows), String(columns), String(seed), shifted],
    {
      stdio: 'inherit',
    },
  );
  generated[path.basename(file)] = Math.round(performance.now() - start);
}

// The reference sketch, as trainCandidate makes it (once per version).
const store = createLocalArtifactStore(dir);
let sketchBuildMs: number | null = null;
if (!existsSync(sketchFile)) {
  const start = performance.now();
  await storeReferenceSketch(store, { key: sketchKey, dataUri: referenceFile, features });
  sketchBuildMs = Math.round(performance.now() - start);
}

// The timed runs: each in a fresh process (cold), on one thread and on CTLOOP_DRIFT_THREADS.
const threads = driftThreadCount();
const reportFile = path.join(dir, `wide-report-${rows}x${columns}.json`);
type Measured = { wallMs: number; cpuMs: number; peakRssMB: number; drifted: boolean; share: number };
const runs: (Measured & { threads: number; loadAverageBefore: number[]; loadAverageAfter: number[] })[] = [];
for (const t of threads > 1 ? [threads, 1] : [1]) {
  const loadAverageBefore = os.loadavg().map((x) => Number(x.toFixed(2)));
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/drift-wide-measure.ts',
      sketchFile,
      currentFile,
      String(columns),
      reportFile,
      String(t),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const measured = JSON.parse(out.trim().split('\n').at(-1)!) as Measured;
  runs.push({
    threads: t,
    ...measured,
    loadAverageBefore,
    loadAverageAfter: os.loadavg().map((x) => Number(x.toFixed(2))),
  });
}
const best = runs.reduce((a, b) => (a.wallMs <= b.wallMs ? a : b));
const report = JSON.parse(await readFile(reportFile, 'utf8')) as DriftReport;

// The check: the exact computation on a spread of columns, both whole columns read and sorted.
const checked = Array.from(
  { length: checkColumns },
  (_, k) => features[Math.floor((k * columns) / checkColumns)]!,
);
const open = async (file: string) => {
  const buffer = await asyncBufferFromFile(file);
  return { buffer, metadata: await parquetMetadataAsync(buffer) };
};
const ref = await open(referenceFile);
const cur = await open(currentFile);
const comparisons = [];
for (const feature of checked) {
  const exact = driftReport({
    reference: await parquetColumnsOf(ref.buffer, ref.metadata, [feature]),
    current: await parquetColumnsOf(cur.buffer, cur.metadata, [feature]),
    features: [feature],
  }).features[0] as NumericFeatureDrift;
  const sketched = report.features.find((f) => f.name === feature.name) as NumericFeatureDrift;
  // JSON has no Infinity: the outer bins' bounds come back as null.
  const bins = (b: NumericFeatureDrift['bins']) => JSON.parse(JSON.stringify(b));
  comparisons.push({
    column: feature.name,
    psiExact: exact.psi,
    psiSketch: sketched.psi,
    binsEqual: isDeepStrictEqual(bins(exact.bins), bins(sketched.bins)),
    ksExact: exact.statistic,
    ksSketch: sketched.statistic,
    ksUpperBound: sketched.statisticUpperBound,
    ksWithinBound: sketched.statistic <= exact.statistic && exact.statistic <= sketched.statisticUpperBound!,
    pValueExact: exact.pValue,
    pValueSketch: sketched.pValue,
  });
}

const result = {
  bench: 'drift-wide',
  at: new Date().toISOString(),
  machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
  data: {
    rows,
    columns,
    format:
      'Parquet, float64 columns, PLAIN, uncompressed, row groups of 65,536 (bench/wide_parquet.py, pyarrow): read 16 columns at a time, so memory is bounded by the group; a CSV of this size (~10 GB of text) would have to be parsed whole',
    files: { reference: referenceFile, current: currentFile },
    bytes: { reference: (await stat(referenceFile)).size, current: (await stat(currentFile)).size },
    shifted: 'every 5th column +0.05 sd, every 10th also ×1.3 sd',
    generatedMs: generated,
  },
  sketch: {
    file: sketchFile,
    bytes: (await stat(sketchFile)).size,
    resolution: SKETCH_RESOLUTION,
    buildMs: sketchBuildMs,
    buildNote:
      'made once per version at training time (storeReferenceSketch), not part of the drift report; null: reused from an earlier run',
  },
  ctloop: {
    includes:
      'driftReportOfSketch in a fresh process per run (cold): read + decode the sketch, read the batch 16 columns at a time (hyparquet; with threads, each thread its own groups), count each column into its sketch (PSI on 10 reference-quantile bins, KS at the sketch points, asymptotic p), BH across the columns, verdict',
    runs,
    driftedColumns: report.features.filter((f) => f.drifted).length,
  },
  check: {
    columns: checked.map((f) => f.name),
    tolerance: `PSI and bins equal; exact KS D in [statistic, statisticUpperBound], upper − statistic ≤ 1/${SKETCH_RESOLUTION} + 2/n`,
    psiEqual: comparisons.every((c) => c.psiExact === c.psiSketch && c.binsEqual),
    ksWithinBound: comparisons.every((c) => c.ksWithinBound),
    ksMaxAbsDiff: Math.max(...comparisons.map((c) => c.ksExact - c.ksSketch)),
    comparisons,
  },
  goal: {
    wallMs: `≤ ${goalMs}`,
    best: { threads: best.threads, wallMs: best.wallMs },
    met: best.wallMs <= goalMs,
    metOnOneThread: runs.find((r) => r.threads === 1)!.wallMs <= goalMs,
  },
};
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/drift-wide.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
