/**
 * How long the evaluation gate takes on a big hold-out set: one million
 * paired predictions (synthetic, seeded) and 2,000 bootstrap resamples, for
 * the current code and for the reference: the same gate at
 * REFERENCE_COMMIT, the last commit before the block resampler, checked out
 * of git into bench/.reference/ and imported as it was. Same process, same
 * data, same thread (the gate is single-threaded; no worker threads), and
 * each side warmed up alike on a small set before it is timed.
 *
 *   npm run bench -- evaluation-gate              # writes bench/results/evaluation-gate.json
 *   npx tsx bench/evaluation-gate.ts 100000 500   # smaller: rows, resamples
 *
 * bootstrapMs: the paired bootstrap of the mean log-loss difference, the
 * general row path (every resample draws a million rows). gateMs: the whole
 * gate (accuracy by McNemar, a log-loss and an F1 guardrail, a 4-value
 * segment check). Three timed runs of the current code, one of the
 * reference (about 50 s each).
 *
 * "The same statistical answer": both sides draw each resample as an exact
 * Multinomial(n; 1/n, …) vector of row counts, with different random
 * numbers; so their intervals differ only by Monte Carlo error. `agreement`
 * checks that: each log-loss bound within 4 standard errors of the
 * difference of two 2,000-resample percentile estimates
 * (test/domain/evaluation/monte-carlo.ts), and the gate's decision equal.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type EvaluationGateInput, evaluationGate } from '../domain/evaluation/gate';
import { rowLogLoss } from '../domain/evaluation/metrics';
import {
  type PairedBootstrapResult,
  pairedBootstrapMeanDifference,
} from '../domain/evaluation/paired-bootstrap';
import { normalSample, seededRandom } from '../domain/random';
import { boundTolerance } from '../test/domain/evaluation/monte-carlo';

const REFERENCE_COMMIT = '12561ce648415b61a44bcc2fc5f9a7931ac45034';
const GOAL_GATE_MS = 5000;
const RUNS = 3;

const rows = Number(process.argv[2] ?? 1_000_000);
const resamples = Number(process.argv[3] ?? 2000);

type Gate = typeof evaluationGate;
type MeanDifference = typeof pairedBootstrapMeanDifference;

function holdout(n: number) {
  const random = seededRandom(20240611);
  const yTrue = new Float64Array(n);
  const champion = new Float64Array(n);
  const candidate = new Float64Array(n);
  const region: string[] = new Array(n);
  const regions = ['us', 'eu', 'apac', 'latam'];
  for (let i = 0; i < n; i++) {
    const y = random() < 0.4 ? 1 : 0;
    const signal = (2 * y - 1) * 1.0 + 1.2 * normalSample(random);
    yTrue[i] = y;
    champion[i] = 1 / (1 + Math.exp(-signal));
    // The candidate sees the same signal, a little sharper, with noise of its own: both models err on some rows.
    candidate[i] = 1 / (1 + Math.exp(-(signal + 0.1 * (2 * y - 1) + 0.5 * normalSample(random))));
    region[i] = regions[i % 4]!;
  }
  const logLossDiffs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    logLossDiffs[i] = rowLogLoss(yTrue[i]!, champion[i]!) - rowLogLoss(yTrue[i]!, candidate[i]!);
  }
  const gateInput: EvaluationGateInput = {
    yTrue,
    candidate,
    champion,
    segments: { region },
    policy: {
      primaryMetric: 'accuracy',
      minImprovement: 0.005,
      guardrails: [
        { metric: 'logLoss', margin: 0.01 },
        { metric: 'f1', margin: 0.01 },
      ],
      slices: { column: 'region', margin: 0.02, minRows: Math.min(1000, n / 8) },
      bootstrapResamples: resamples,
    },
  };
  return { logLossDiffs, gateInput };
}

const time = <T>(run: () => T): [T, number] => {
  const start = performance.now();
  const result = run();
  return [result, Math.round(performance.now() - start)];
};

const loadavg = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

/** Timed runs of one implementation: the log-loss bootstrap, then the whole gate, `runs` times. */
function measure(gate: Gate, meanDifference: MeanDifference, runs: number) {
  // Warm-up on a small set, so that no side is timed while V8 still compiles it.
  const small = holdout(20_000);
  meanDifference(small.logLossDiffs, { resamples: 200, random: seededRandom(1) });
  gate({ ...small.gateInput, policy: { ...small.gateInput.policy, bootstrapResamples: 200 } });
  const result = {
    bootstrapMs: [] as number[],
    gateMs: [] as number[],
    loadavgBeforeEachRun: [] as number[][],
    interval: undefined as PairedBootstrapResult | undefined,
    verdict: undefined as ReturnType<Gate> | undefined,
  };
  for (let r = 0; r < runs; r++) {
    result.loadavgBeforeEachRun.push(loadavg());
    const [interval, bootstrapMs] = time(() =>
      meanDifference(data.logLossDiffs, { resamples, random: seededRandom(1) }),
    );
    const [verdict, gateMs] = time(() => gate(data.gateInput));
    result.bootstrapMs.push(bootstrapMs);
    result.gateMs.push(gateMs);
    result.interval = interval;
    result.verdict = verdict;
  }
  return result;
}

/** The gate and bootstrap as they were at `commit`, from git, imported from bench/.reference/. */
async function referenceImplementation(commit: string) {
  const dir = path.join('bench', '.reference', commit.slice(0, 12));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['archive', commit, 'domain'], { maxBuffer: 256 * 2 ** 20 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  const load = (file: string) => import(pathToFileURL(path.resolve(dir, 'domain', 'evaluation', file)).href);
  const gate: { evaluationGate: Gate } = await load('gate.ts');
  const bootstrap: { pairedBootstrapMeanDifference: MeanDifference } = await load('paired-bootstrap.ts');
  return { dir, gate: gate.evaluationGate, meanDifference: bootstrap.pairedBootstrapMeanDifference };
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const data = holdout(rows);
const loadavgAtStart = loadavg();
const current = measure(evaluationGate, pairedBootstrapMeanDifference, RUNS);
const ref = await referenceImplementation(REFERENCE_COMMIT);
let reference: ReturnType<typeof measure>;
try {
  reference = measure(ref.gate, ref.meanDifference, 1);
} finally {
  rmSync(path.join('bench', '.reference'), { recursive: true, force: true });
}
const loadavgAtEnd = loadavg();

const a = current.interval!;
const b = reference.interval!;
const bound = (q: number, ours: number, theirs: number) => {
  const tolerance = boundTolerance(b.standardError, q, resamples, resamples, 0);
  const difference = Math.abs(ours - theirs);
  return {
    difference,
    tolerance,
    inStandardErrors: difference / b.standardError,
    within: difference <= tolerance,
  };
};
const guardrailBounds = (verdict: ReturnType<Gate>) =>
  Object.fromEntries(verdict.guardrails.map((g) => [g.metric, [g.interval.lower, g.interval.upper]]));
const lower = bound(0.025, a.lower, b.lower);
const upper = bound(0.975, a.upper, b.upper);
const sameDecision = current.verdict!.decision === reference.verdict!.decision;
const cpus = os.cpus();
const gateMedian = median(current.gateMs);

console.log(
  JSON.stringify({
    machine: {
      cpu: cpus[0]?.model,
      cores: cpus.length,
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.platform()} ${os.release()}`,
    },
    node: process.version,
    loadavg: { atStart: loadavgAtStart, atEnd: loadavgAtEnd },
    rows,
    resamples,
    threads: 1,
    state: 'warm: each side ran once on 20,000 rows × 200 resamples before its timed runs',
    goal: { gateMs: `≤ ${GOAL_GATE_MS}`, met: current.gateMs.every((ms) => ms <= GOAL_GATE_MS) },
    current: {
      bootstrapMs: current.bootstrapMs,
      gateMs: current.gateMs,
      medianBootstrapMs: median(current.bootstrapMs),
      medianGateMs: gateMedian,
      loadavgBeforeEachRun: current.loadavgBeforeEachRun,
    },
    reference: {
      commit: REFERENCE_COMMIT,
      bootstrapMs: reference.bootstrapMs,
      gateMs: reference.gateMs,
      loadavgBeforeEachRun: reference.loadavgBeforeEachRun,
    },
    ratio: {
      bootstrap: Math.round((median(reference.bootstrapMs) / median(current.bootstrapMs)) * 10) / 10,
      gate: Math.round((median(reference.gateMs) / gateMedian) * 10) / 10,
    },
    sameStatisticalAnswer:
      'both draw exact Multinomial(n; 1/n) resamples, with different random numbers: bounds agree within ' +
      '4 standard errors of the difference of two percentile estimates, and the gate decides the same',
    agreement: {
      logLossInterval: {
        current: { estimate: a.estimate, lower: a.lower, upper: a.upper, standardError: a.standardError },
        reference: { estimate: b.estimate, lower: b.lower, upper: b.upper, standardError: b.standardError },
        lower,
        upper,
      },
      gate: {
        decision: { current: current.verdict!.decision, reference: reference.verdict!.decision },
        guardrailIntervals: {
          current: guardrailBounds(current.verdict!),
          reference: guardrailBounds(reference.verdict!),
        },
        reason: current.verdict!.reasons[0],
      },
      sameDecision,
      met: sameDecision && lower.within && upper.within && a.estimate === b.estimate,
    },
  }),
);
