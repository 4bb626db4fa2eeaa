/**
 * ctloop's batch drift computation against Evidently's, on the same files,
 * like for like: both cold (each run a fresh process: a fresh node, a fresh
 * Python interpreter), both on one thread, and ctloop's threaded figure
 * beside it.
 *
 *   npm run bench -- drift-vs-evidently        (or: npx tsx bench/drift-vs-evidently.ts [--rows N] [--columns N] [--runs N] [--evidently-runs N])
 *
 * Data: two seeded CSV files of rows × columns numeric cells (6 decimals),
 * generated once into .data/bench/ and reused: the reference N(0, 1); the
 * current batch the same, except every fifth column shifted by 0.05 sd and
 * every tenth also scaled by 1.3 (as in bench/drift.ts).
 *
 * ctloop: bench/drift-cold.ts in a fresh process per run — driftReportOfData,
 * the drift activity's own code path: read both files, csvColumns (CSV bytes
 * → Float64Array columns), then the report (per column PSI on
 * reference-decile bins + two-sample KS with its p-value, Benjamini–Hochberg
 * across the columns, the verdict) — on one thread and on
 * CTLOOP_DRIFT_THREADS threads (default min(cores, 4)); --runs runs each,
 * interleaved, the median reported with every run (the reports must be
 * identical); then one more cold one-thread run step by step (read, parse,
 * measure: PSI and KS) to show where the time goes.
 * Evidently: bench/evidently_drift.py in .tools/pyenv-evidently
 * (scripts/ensure-evidently), a fresh interpreter per run with OpenMP / BLAS /
 * numexpr pinned to one thread: pandas.read_csv of both files, then one
 * Report with DataDriftPreset(num_method='ks') (scipy ks_2samp per column)
 * and ValueDrift(method='psi') per column (PSI on equal-width bins over both
 * samples, Sturges' rule: 21 bins at 2 × 356,000 values), snapshot.dict();
 * --evidently-runs runs (default 3: its time varies by a fifth from run to
 * run here; the median is the figure), Python start-up and
 * imports timed apart.
 *
 * Writes bench/results/drift-vs-evidently.json and prints it: each side's
 * runs (wall and CPU time, load average at the start of each), the ratios
 * (Evidently ÷ ctloop; the goal is ≥ 20 with both on one thread and cold),
 * and how far the two KS p-values are apart.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { storeReferenceSketch } from '../activities/drift';
import { driftThreadCount } from '../compute/drift-threads';
import type { DriftReport, NumericFeatureDrift } from '../domain/drift/report';
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
const evidentlyRunCount = option('evidently-runs', 3);
const names = Array.from({ length: columns }, (_, c) => `x${c}`);

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

// ctloop: the drift activity's own code path (driftReportOfData: read, parse, report), each run
// in a fresh process (cold: nothing compiled, nothing cached but the OS's page cache, which
// Evidently's run has as well), on one thread and on CTLOOP_DRIFT_THREADS (default min(cores, 4))
// threads, runs interleaved; then one more fresh process with the one-thread work step by step.
const threads = driftThreadCount();
const threadCounts = threads > 1 ? [1, threads] : [1];
type ColdRun = { wallMs: number; cpuMs: number; peakRssMB: number; loadAverage: number[] };
const timings = new Map(threadCounts.map((t) => [t, [] as ColdRun[]]));
let reportJson: string | undefined;
const load = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const child = (args: string[]) =>
  JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/drift-cold.ts', ...args], {
      encoding: 'utf8',
      maxBuffer: 256 * 2 ** 20,
    })
      .trim()
      .split('\n')
      .at(-1)!,
  );
for (let run = 0; run < runs; run++) {
  for (const t of threadCounts) {
    const loadAverage = load();
    const r = child([referenceFile, currentFile, String(columns), String(t)]);
    timings.get(t)!.push({ wallMs: r.wallMs, cpuMs: r.cpuMs, peakRssMB: r.peakRssMB, loadAverage });
    const json = JSON.stringify(r.report);
    if (reportJson !== undefined && json !== reportJson) throw new Error(`the ${t}-thread report differs`);
    reportJson = json;
  }
}
const phases = child([referenceFile, currentFile, String(columns), '1', 'phases']) as {
  phases: Record<string, number>;
  cpuMs: number;
};
const report = JSON.parse(reportJson!) as DriftReport;

// Not like for like, beside it: the drift activity's path for a version trained by ctloop, whose
// reference is its sketch (made once at training; timed apart). Cold, one thread.
const sketchKey = `drift-reference-${rows}x${columns}.sketch.bin`;
const sketchStart = performance.now();
await storeReferenceSketch(createLocalArtifactStore(dir), {
  key: sketchKey,
  dataUri: referenceFile,
  features: names.map((name) => ({ name, kind: 'numeric' as const })),
});
const sketchBuildMs = performance.now() - sketchStart;
const sketchRuns: ColdRun[] = [];
let sketchReport: DriftReport | undefined;
for (let run = 0; run < runs; run++) {
  const loadAverage = load();
  const r = child([referenceFile, currentFile, String(columns), '1', 'sketch', path.join(dir, sketchKey)]);
  sketchRuns.push({ wallMs: r.wallMs, cpuMs: r.cpuMs, peakRssMB: r.peakRssMB, loadAverage });
  sketchReport = r.report as DriftReport;
}
const sketchAgreement = report.features.map((e, i) => {
  const s = sketchReport!.features[i]! as NumericFeatureDrift;
  const x = e as NumericFeatureDrift;
  return {
    psiEqual: s.psi === x.psi,
    ksWithinBound: s.statistic <= x.statistic && x.statistic <= s.statisticUpperBound!,
    ksBelowExact: x.statistic - s.statistic,
  };
});
const single = timings.get(1)!;
const parallel = timings.get(threads)!;

// Evidently, in its own interpreter, on the same files, cold (a fresh interpreter each run) and on
// one thread: numpy / scipy / pandas may use BLAS or OpenMP threads, which these variables pin to one.
const python = execFileSync('bash', ['scripts/ensure-evidently'], { encoding: 'utf8' }).trim();
const oneThreadEnv = {
  ...process.env,
  OMP_NUM_THREADS: '1',
  OPENBLAS_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
  NUMEXPR_NUM_THREADS: '1',
};
type EvidentlyRun = {
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
const evidentlyRuns: (EvidentlyRun & { processMs: number; loadAverage: number[] })[] = [];
for (let run = 0; run < evidentlyRunCount; run++) {
  const loadAverage = load();
  const processStart = performance.now();
  const r = JSON.parse(
    execFileSync(python, ['bench/evidently_drift.py', referenceFile, currentFile], {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      env: oneThreadEnv,
    }),
  ) as EvidentlyRun;
  evidentlyRuns.push({ ...r, processMs: performance.now() - processStart, loadAverage });
}
const evidentlyTotals = evidentlyRuns.map((r) => (r.readS + r.computeS) * 1000);
const evidently = evidentlyRuns[evidentlyTotals.indexOf(median(evidentlyTotals))]!;
const evidentlyProcessMs = evidently.processMs;

const ms = (x: number) => Math.round(x);
const wall = (rs: readonly ColdRun[]) => median(rs.map((r) => r.wallMs));
const cpu = (rs: readonly ColdRun[]) => median(rs.map((r) => r.cpuMs));
const evidentlyTotal = median(evidentlyTotals);
const evidentlyCpu = (evidently.readCpuS + evidently.computeCpuS) * 1000;
const features_ = report.features;
const ksDiff = Math.max(...features_.map((f) => Math.abs(f.pValue - evidently.ksPValue[f.name]!)));
const evidentlyKsRawSignificant = names.filter((n) => evidently.ksPValue[n]! < 0.05);
const ratio = (x: number) => Number(x.toFixed(1));

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
    includes: `driftReportOfData, the drift activity's code: read both files (on one thread, the current file's read overlaps the reference's parse), csvColumns (CSV bytes → Float64Array columns), per column PSI on 10 reference-quantile bins (epsilon 1e-4) and two-sample KS + p-value, both exact, by counting the columns into buckets (domain/drift/bucketed: the same figures as sorting them), BH across columns, verdict. Every run in a fresh node process (cold: first call, no JIT warm-up); median of ${runs} runs each; with ${threads} threads both files are parsed at once, one per thread, and the features measured in groups, one per thread`,
    oneThread: {
      wallMs: wall(single),
      cpuMs: cpu(single),
      runs: single,
      phases: {
        ...phases.phases,
        cpuMs: phases.cpuMs,
        note: 'a separate cold one-thread run, step by step: read both files (not overlapped), parse (csvColumns), measure every feature (measureFeature: PSI and KS)',
      },
    },
    threaded: { threads, wallMs: wall(parallel), cpuMs: cpu(parallel), runs: parallel },
    againstSketch: {
      note: "not like for like: the reference is the version's sketch (domain/drift/reference-sketch), made once at training, so the reference file is neither read nor sorted; the current CSV is parsed and counted into the sketch; one thread, each run a fresh process",
      sketchBuildMs: ms(sketchBuildMs),
      wallMs: wall(sketchRuns),
      cpuMs: cpu(sketchRuns),
      runs: sketchRuns,
      psiEqualToExact: sketchAgreement.every((a) => a.psiEqual),
      ksWithinBound: sketchAgreement.every((a) => a.ksWithinBound),
      ksMaxBelowExact: Math.max(...sketchAgreement.map((a) => a.ksBelowExact)),
      sameVerdict: sketchReport!.verdict.drifted === report.verdict.drifted,
    },
    driftedColumns: features_.filter((f) => f.drifted).map((f) => f.name),
  },
  evidently: {
    includes:
      "pandas.read_csv of both files; Dataset.from_pandas + Report([DataDriftPreset(num_method='ks')] + ValueDrift(column, method='psi') per column).run + snapshot.dict(): scipy ks_2samp p-value and PSI on equal-width Sturges bins per column, and the preset's own extras; every run a fresh interpreter (cold), OMP/OpenBLAS/MKL/numexpr threads = 1; total = read + compute, interpreter start-up and imports apart",
    version: evidently.evidentlyVersion,
    pandas: evidently.pandasVersion,
    totalMs: ms(evidentlyTotal),
    cpuMs: ms(evidentlyCpu),
    readMs: ms(evidently.readS * 1000),
    computeMs: ms(evidently.computeS * 1000),
    importMs: ms(evidently.importS * 1000),
    processMs: ms(evidentlyProcessMs),
    runs: evidentlyRuns.map((r) => ({
      totalMs: ms((r.readS + r.computeS) * 1000),
      cpuMs: ms((r.readCpuS + r.computeCpuS) * 1000),
      readMs: ms(r.readS * 1000),
      computeMs: ms(r.computeS * 1000),
      importMs: ms(r.importS * 1000),
      processMs: ms(r.processMs),
      loadAverage: r.loadAverage,
    })),
    ksRawPBelow05Columns: evidentlyKsRawSignificant,
  },
  ratio: {
    oneThreadCold: ratio(evidentlyTotal / wall(single)),
    threadedCold: ratio(evidentlyTotal / wall(parallel)),
    againstSketchOneThreadCold: ratio(evidentlyTotal / wall(sketchRuns)),
    cpuOneThread: ratio(evidentlyCpu / cpu(single)),
    cpuThreaded: ratio(evidentlyCpu / cpu(parallel)),
    loadAverageAtEnd: load(),
    goal: 'oneThreadCold ≥ 20 (both sides one thread, both cold), threaded figure beside it',
    met: evidentlyTotal / wall(single) >= 20,
  },
  agreement: {
    ksPValueMaxAbsDiff: ksDiff,
    reportsEqual: `the ${runs * threadCounts.length} ctloop reports (1 and ${threads} threads) are identical`,
    note: 'KS: same statistic and asymptotic p-value as SciPy. PSI differs by design: ctloop bins on reference quantiles, Evidently on equal-width bins (Sturges rule) over both samples, so the PSI values are not comparable number for number.',
  },
};
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/drift-vs-evidently.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
