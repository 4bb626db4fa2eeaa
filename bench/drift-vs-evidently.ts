/**
 * ctloop's batch drift computation against Evidently's, on the same files in
 * the same run.
 *
 *   npm run bench:drift-evidently -- [--rows N] [--columns N] [--runs N]
 *
 * Data: two seeded CSV files of rows × columns numeric cells (6 decimals),
 * generated once into .data/bench/ and reused: the reference N(0, 1); the
 * current batch the same, except every fifth column shifted by 0.05 sd and
 * every tenth also scaled by 1.3 (as in bench/drift.ts).
 *
 * ctloop: the drift activity's own code path, driftReportOfData — read both
 * files, csvColumns (CSV bytes → Float64Array columns), then the report (per
 * column PSI on reference-decile bins + two-sample KS with its p-value,
 * Benjamini–Hochberg across the columns, the verdict) — on one thread and on
 * CTLOOP_DRIFT_THREADS threads (default min(cores, 4)), side by side; median
 * of --runs runs each (the reports must be equal).
 * Evidently: bench/evidently_drift.py in .tools/pyenv-evidently
 * (scripts/ensure-evidently): pandas.read_csv of both files, then one Report
 * with DataDriftPreset(num_method='ks') (scipy ks_2samp per column) and
 * ValueDrift(method='psi') per column (PSI on equal-width bins over both
 * samples, Sturges' rule: 21 bins at 2 × 356,000 values), snapshot.dict(); one
 * run (it is the slow side), Python start-up and imports timed apart.
 *
 * Writes bench/results/drift-vs-evidently.json and prints it: both timings
 * (wall and CPU), what each includes, the ratios (Evidently ÷ ctloop; the goal
 * is ≥ 20 for the whole read-and-compute), the load average (the machine may be
 * shared: wall ratios move with it, CPU ratios much less), and how far the two
 * KS p-values are apart.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { driftReportOfData } from '../activities/drift';
import { closeDriftThreads, driftThreadCount } from '../compute/drift-threads';
import type { DriftFeature, DriftReport } from '../domain/drift/report';
import { normalSample, seededRandom } from '../domain/random';
import { createLocalArtifactStore } from '../storage/artifact-store';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`bench/drift-vs-evidently: --${name} must be a positive integer`);
  return value;
}

const rows = option('rows', 356_000);
const columns = option('columns', 50);
const runs = option('runs', 3);
const names = Array.from({ length: columns }, (_, c) => `x${c}`);
const features: DriftFeature[] = names.map((name) => ({ name, kind: 'numeric' }));

/** Writes one seeded CSV file unless it is already there (atomically, so a killed run leaves none). */
async function ensureCsv(file: string, seed: number, shifted: boolean): Promise<void> {
  if (existsSync(file)) return;
  const rand = seededRandom(seed);
  const shift = names.map((_, c) => (shifted && c % 5 === 0 ? 0.05 : 0));
  const scale = names.map((_, c) => (shifted && c % 10 === 0 ? 1.3 : 1));
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  out.write(`${names.join(',')}\n`);
  const cells: string[] = new Array(columns);
  let chunk = '';
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) cells[c] = (shift[c]! + scale[c]! * normalSample(rand)).toFixed(6);
    chunk += `${cells.join(',')}\n`;
    if (r % 2000 === 1999 && !out.write(chunk)) await once(out, 'drain');
    if (r % 2000 === 1999) chunk = '';
  }
  out.end(chunk);
  await once(out, 'finish');
  await rename(partial, file);
}

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

const dir = path.join('.data', 'bench');
await mkdir(dir, { recursive: true });
const referenceFile = path.join(dir, `drift-reference-${rows}x${columns}.csv`);
const currentFile = path.join(dir, `drift-current-${rows}x${columns}.csv`);
const generateStart = performance.now();
await ensureCsv(referenceFile, 20_240_601, false);
await ensureCsv(currentFile, 20_240_602, true);
const generateMs = performance.now() - generateStart;
const store = createLocalArtifactStore(dir);

// ctloop: the drift activity's own code path (driftReportOfData: read, parse, report), on one
// thread and on CTLOOP_DRIFT_THREADS (default min(cores, 4)) threads, runs interleaved.
const threads = driftThreadCount();
const threadCounts = threads > 1 ? [1, threads] : [1];
const timings = new Map(threadCounts.map((t) => [t, { totalMs: [] as number[], cpuMs: [] as number[] }]));
let report: DriftReport | undefined;
const input = { referenceUri: referenceFile, currentUri: currentFile, features };
for (let run = 0; run < runs; run++) {
  for (const t of threadCounts) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const r = await driftReportOfData(store, input, t);
    const used = process.cpuUsage(cpu); // the whole process: every thread's CPU time
    timings.get(t)!.totalMs.push(performance.now() - start);
    timings.get(t)!.cpuMs.push((used.user + used.system) / 1000);
    if (report && !isDeepStrictEqual(r, report)) throw new Error(`the ${t}-thread report differs`);
    report = r;
  }
}
await closeDriftThreads();
const single = timings.get(1)!;
const parallel = timings.get(threads)!;

// Evidently, in its own interpreter, on the same files.
const python = execFileSync('bash', ['scripts/ensure-evidently'], { encoding: 'utf8' }).trim();
const processStart = performance.now();
const evidently = JSON.parse(
  execFileSync(python, ['bench/evidently_drift.py', referenceFile, currentFile], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  }),
) as {
  evidentlyVersion: string;
  pandasVersion: string;
  importS: number;
  readS: number;
  computeS: number;
  readCpuS: number;
  computeCpuS: number;
  ksPValue: Record<string, number>;
  psi: Record<string, number>;
};
const evidentlyProcessMs = performance.now() - processStart;

const ms = (x: number) => Math.round(x);
const ctloopTotal = median(parallel.totalMs);
const evidentlyTotal = (evidently.readS + evidently.computeS) * 1000;
const features_ = report!.features;
const ksDiff = Math.max(...features_.map((f) => Math.abs(f.pValue - evidently.ksPValue[f.name]!)));
const evidentlyKsRawSignificant = names.filter((n) => evidently.ksPValue[n]! < 0.05);

const result = {
  bench: 'drift-vs-evidently',
  at: new Date().toISOString(),
  machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
  data: {
    rows,
    columns,
    files: [referenceFile, currentFile],
    bytes: (await stat(referenceFile)).size + (await stat(currentFile)).size,
    shifted: 'every 5th column +0.05 sd, every 10th also ×1.3 sd',
    generateMs: ms(generateMs),
  },
  ctloop: {
    includes: `driftReportOfData, the drift activity's code: read both files, csvColumns (CSV bytes → Float64Array columns), per column sort, PSI on 10 reference-quantile bins (epsilon 1e-4), two-sample KS + p-value, BH across columns, verdict; ${threads} thread${threads > 1 ? 's (both files parsed at once, one per thread; features measured in groups, one per thread)' : ''}; median of ${runs} runs`,
    threads,
    runs,
    totalMs: ms(ctloopTotal),
    cpuMs: ms(median(parallel.cpuMs)),
    runsTotalMs: parallel.totalMs.map(ms),
    oneThread: {
      totalMs: ms(median(single.totalMs)),
      cpuMs: ms(median(single.cpuMs)),
      runsTotalMs: single.totalMs.map(ms),
    },
    driftedColumns: features_.filter((f) => f.drifted).map((f) => f.name),
  },
  evidently: {
    includes:
      "pandas.read_csv of both files; Dataset.from_pandas + Report([DataDriftPreset(num_method='ks')] + ValueDrift(column, method='psi') per column).run + snapshot.dict(): scipy ks_2samp p-value and PSI on equal-width Sturges bins per column, and the preset's own extras; one run",
    version: evidently.evidentlyVersion,
    pandas: evidently.pandasVersion,
    readMs: ms(evidently.readS * 1000),
    computeMs: ms(evidently.computeS * 1000),
    totalMs: ms(evidentlyTotal),
    cpuMs: ms((evidently.readCpuS + evidently.computeCpuS) * 1000),
    importMs: ms(evidently.importS * 1000),
    processMs: ms(evidentlyProcessMs),
    ksRawPBelow05Columns: evidentlyKsRawSignificant,
  },
  ratio: {
    total: Number((evidentlyTotal / ctloopTotal).toFixed(1)),
    totalOneThread: Number((evidentlyTotal / median(single.totalMs)).toFixed(1)),
    // CPU time of read + compute (user + system, every thread; ctloop's includes its GC threads).
    cpu: Number((((evidently.readCpuS + evidently.computeCpuS) * 1000) / median(parallel.cpuMs)).toFixed(1)),
    cpuOneThread: Number(
      (((evidently.readCpuS + evidently.computeCpuS) * 1000) / median(single.cpuMs)).toFixed(1),
    ),
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(1))),
    goal: 'total ≥ 20',
  },
  agreement: {
    ksPValueMaxAbsDiff: ksDiff,
    note: 'KS: same statistic and asymptotic p-value as SciPy. PSI differs by design: ctloop bins on reference quantiles, Evidently on equal-width bins (Sturges rule) over both samples, so the PSI values are not comparable number for number.',
  },
};
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/drift-vs-evidently.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
