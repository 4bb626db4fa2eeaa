/**
 * How long the evaluation gate takes on a big hold-out set: one million
 * paired predictions (synthetic, seeded) and 2,000 bootstrap resamples.
 *
 *   npx tsx bench/evaluation-gate.ts            # rows = 1,000,000, resamples = 2,000
 *   npx tsx bench/evaluation-gate.ts 100000 500 # smaller
 *
 * Prints one JSON object. mcnemarMs: McNemar on the two correctness vectors.
 * bootstrapMs: paired bootstrap of the mean log-loss difference, the general
 * row path (every resample draws a million rows). bootstrapAccuracyMs: the
 * same for accuracy, whose per-row differences (−1, 0, +1) resample as a
 * multinomial. gateMs: the whole gate (accuracy by McNemar, a log-loss and an
 * F1 guardrail, a 4-value segment check). heapUsedMB is the JS heap; the
 * typed arrays live outside it, in arrayBuffersMB.
 */
import { evaluationGate } from '../domain/evaluation/gate';
import { mcnemar } from '../domain/evaluation/mcnemar';
import { rowLogLoss } from '../domain/evaluation/metrics';
import { pairedBootstrapMeanDifference } from '../domain/evaluation/paired-bootstrap';
import { normalSample, seededRandom } from '../domain/random';

const rows = Number(process.argv[2] ?? 1_000_000);
const resamples = Number(process.argv[3] ?? 2000);

const random = seededRandom(20240611);
const yTrue = new Float64Array(rows);
const champion = new Float64Array(rows);
const candidate = new Float64Array(rows);
const region: string[] = new Array(rows);
const regions = ['us', 'eu', 'apac', 'latam'];
for (let i = 0; i < rows; i++) {
  const y = random() < 0.4 ? 1 : 0;
  const signal = (2 * y - 1) * 1.0 + 1.2 * normalSample(random);
  yTrue[i] = y;
  champion[i] = 1 / (1 + Math.exp(-signal));
  // The candidate sees the same signal, a little sharper, with noise of its own: both models err on some rows.
  candidate[i] = 1 / (1 + Math.exp(-(signal + 0.1 * (2 * y - 1) + 0.5 * normalSample(random))));
  region[i] = regions[i % 4]!;
}

const time = <T>(run: () => T): [T, number] => {
  const start = performance.now();
  const result = run();
  return [result, Math.round(performance.now() - start)];
};

const championCorrect = new Uint8Array(rows);
const candidateCorrect = new Uint8Array(rows);
const accuracyDiffs = new Float64Array(rows);
const logLossDiffs = new Float64Array(rows);
for (let i = 0; i < rows; i++) {
  const y = yTrue[i]!;
  championCorrect[i] = Number((champion[i]! >= 0.5 ? 1 : 0) === y);
  candidateCorrect[i] = Number((candidate[i]! >= 0.5 ? 1 : 0) === y);
  accuracyDiffs[i] = candidateCorrect[i]! - championCorrect[i]!;
  logLossDiffs[i] = rowLogLoss(y, champion[i]!) - rowLogLoss(y, candidate[i]!);
}

const [test, mcnemarMs] = time(() => mcnemar({ championCorrect, candidateCorrect }));
const [logLossInterval, bootstrapMs] = time(() =>
  pairedBootstrapMeanDifference(logLossDiffs, { resamples, random: seededRandom(1) }),
);
const [, bootstrapAccuracyMs] = time(() =>
  pairedBootstrapMeanDifference(accuracyDiffs, { resamples, random: seededRandom(2) }),
);
const [verdict, gateMs] = time(() =>
  evaluationGate({
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
      slices: { column: 'region', margin: 0.02, minRows: 1000 },
      bootstrapResamples: resamples,
    },
  }),
);

const memory = process.memoryUsage();
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
console.log(
  JSON.stringify({
    rows,
    resamples,
    mcnemarMs,
    bootstrapMs,
    bootstrapAccuracyMs,
    gateMs,
    heapUsedMB: mb(memory.heapUsed),
    arrayBuffersMB: mb(memory.arrayBuffers),
    rssMB: mb(memory.rss),
    node: process.version,
    mcnemar: { b: test.b, c: test.c, pValue: test.pValue },
    logLossInterval: {
      estimate: logLossInterval.estimate,
      lower: logLossInterval.lower,
      upper: logLossInterval.upper,
    },
    decision: verdict.decision,
    reason: verdict.reasons[0],
  }),
);
