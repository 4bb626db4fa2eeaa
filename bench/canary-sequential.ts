import { mkdir, writeFile } from 'node:fs/promises';
import { alwaysValidPValue, twoProportionMixtureSprt } from '../domain/canary/mixture-sprt';
import { twoProportionZTest } from '../domain/canary/two-proportion-z-test';
import { canaryPolicySchema } from '../domain/policy';
import { type RandomSource, seededRandom } from '../domain/random';

/**
 * `npm run bench:canary`: the canary's sequential error-rate test against a
 * fixed-horizon test on simulated traffic, written to
 * bench/results/canary-sequential.json.
 *
 * Each simulated canary sends BATCH requests to each version per look, up to
 * HORIZON per version. The sequential test (one-sided normal-mixture SPRT,
 * the policy's default alpha and mixture spread, margin 0) looks after every
 * batch once both versions have MIN_SAMPLES, and rolls back as soon as its
 * always-valid p-value reaches alpha. The fixed-horizon test is the pooled
 * one-sided two-proportion z-test at the same alpha, evaluated once at the
 * horizon. For contrast, the same z-test evaluated at every look ("peeking")
 * shows the false alarms the sequential test exists to avoid.
 *   A/A canaries: both versions fail BASE_RATE of requests (every rollback is false);
 *   bad canaries: the candidate fails 2 × BASE_RATE (every rollback is right).
 */
const CANARIES = Number(process.env.BENCH_CANARIES ?? 2000);
const BASE_RATE = 0.02;
const BATCH = 10;
const SEED = 20250611;

const policy = canaryPolicySchema.parse({});
const MIN_SAMPLES = policy.minRequests;

/** The policy's defaults first (the headline), then the trade-offs around them. */
interface Configuration {
  readonly alpha: number;
  readonly tau: number;
  readonly horizon: number;
}
const CONFIGURATIONS: Configuration[] = [
  { alpha: policy.alpha, tau: policy.mixtureSd.errorRate, horizon: 10000 },
  { alpha: policy.alpha, tau: policy.mixtureSd.errorRate, horizon: 5000 },
  { alpha: policy.alpha, tau: policy.mixtureSd.errorRate, horizon: 2000 },
  { alpha: 0.05, tau: policy.mixtureSd.errorRate, horizon: 5000 },
  { alpha: 0.05, tau: policy.mixtureSd.errorRate, horizon: 2000 },
  { alpha: policy.alpha, tau: 0.02, horizon: 5000 },
];

interface CanaryOutcome {
  /** Requests per version when the sequential test rolled back; null if it never did. */
  sequentialStop: number | null;
  fixedRollback: boolean;
  peekingRollback: boolean;
}

function binomial(rand: RandomSource, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (rand() < p) k++;
  return k;
}

function simulateCanary(
  rand: RandomSource,
  config: Configuration,
  championRate: number,
  candidateRate: number,
): CanaryOutcome {
  const { alpha: ALPHA, tau: TAU, horizon: HORIZON } = config;
  let championErrors = 0;
  let candidateErrors = 0;
  let running: number | undefined;
  let sequentialStop: number | null = null;
  let peekingRollback = false;
  for (let n = BATCH; n <= HORIZON; n += BATCH) {
    championErrors += binomial(rand, BATCH, championRate);
    candidateErrors += binomial(rand, BATCH, candidateRate);
    if (n < MIN_SAMPLES) continue;
    const candidate = { events: candidateErrors, trials: n };
    const champion = { events: championErrors, trials: n };
    if (sequentialStop === null) {
      const look = twoProportionMixtureSprt(candidate, champion, { tau: TAU, alternative: 'greater' });
      running = alwaysValidPValue(running, look.pValue);
      if (running <= ALPHA) sequentialStop = n;
    }
    if (
      !peekingRollback &&
      twoProportionZTest(candidate, champion, { alternative: 'greater' }).pValue <= ALPHA
    ) {
      peekingRollback = true;
    }
  }
  const fixed = twoProportionZTest(
    { events: candidateErrors, trials: HORIZON },
    { events: championErrors, trials: HORIZON },
    { alternative: 'greater' },
  );
  return { sequentialStop, fixedRollback: fixed.pValue <= ALPHA, peekingRollback };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summarise(outcomes: CanaryOutcome[], horizon: number) {
  const HORIZON = horizon;
  const share = (count: number) => count / outcomes.length;
  // Samples to a decision: where the sequential test stopped, else the horizon (it decides "no rollback" there).
  const sequentialSamples = outcomes.map((o) => o.sequentialStop ?? HORIZON);
  return {
    canaries: outcomes.length,
    sequentialRollbackRate: share(outcomes.filter((o) => o.sequentialStop !== null).length),
    fixedRollbackRate: share(outcomes.filter((o) => o.fixedRollback).length),
    peekingRollbackRate: share(outcomes.filter((o) => o.peekingRollback).length),
    sequentialMedianSamples: median(sequentialSamples),
    fixedMedianSamples: HORIZON,
    sequentialMeanSamples: sequentialSamples.reduce((a, b) => a + b, 0) / outcomes.length,
  };
}

function runConfiguration(config: Configuration) {
  const started = performance.now();
  const rand = seededRandom(SEED);
  const aa = summarise(
    Array.from({ length: CANARIES }, () => simulateCanary(rand, config, BASE_RATE, BASE_RATE)),
    config.horizon,
  );
  const bad = summarise(
    Array.from({ length: CANARIES }, () => simulateCanary(rand, config, BASE_RATE, 2 * BASE_RATE)),
    config.horizon,
  );
  return {
    ...config,
    falseRollbackRate: {
      sequential: aa.sequentialRollbackRate,
      fixed: aa.fixedRollbackRate,
      peeking: aa.peekingRollbackRate,
    },
    catchRate: {
      sequential: bad.sequentialRollbackRate,
      fixed: bad.fixedRollbackRate,
      peeking: bad.peekingRollbackRate,
    },
    medianSamplesToDecision: {
      sequential: bad.sequentialMedianSamples,
      fixed: bad.fixedMedianSamples,
      ratio: bad.sequentialMedianSamples / bad.fixedMedianSamples,
    },
    meanSamplesToDecision: { sequential: bad.sequentialMeanSamples, aaSequential: aa.sequentialMeanSamples },
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

const configurations = CONFIGURATIONS.map(runConfiguration);
const result = {
  bench: 'canary-sequential',
  settings: {
    canariesPerScenario: CANARIES,
    baseErrorRate: BASE_RATE,
    badErrorRate: 2 * BASE_RATE,
    requestsPerVersionPerLook: BATCH,
    minSamplesPerVersion: MIN_SAMPLES,
    margin: 0,
    seed: SEED,
    sequentialTest:
      'one-sided normal-mixture SPRT, always-valid p (running minimum), every look, stops at the horizon',
    fixedTest: 'pooled one-sided two-proportion z-test, once at the horizon',
    peekingTest: 'the same z-test at every look (what sequential: false does)',
    samplesToDecision:
      'requests per version; a sequential canary that never rolls back decides at the horizon',
  },
  headline: configurations[0],
  configurations,
};

console.log(JSON.stringify(result, null, 2));
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/canary-sequential.json', `${JSON.stringify(result, null, 2)}\n`);
