import { median } from 'simple-statistics';
import { mannWhitneyU } from './mann-whitney-u';
import { alwaysValidPValue, twoProportionMixtureSprt } from './mixture-sprt';
import { type ProportionSample, twoProportionZTest } from './two-proportion-z-test';

/**
 * One canary metric judged at one look: error rate and labelled accuracy
 * (proportions), latency (ranks). Each compares candidate with champion over
 * the same window and says pass, fail, wait or skipped, with the numbers a
 * run report shows.
 */

export type MetricName = 'errorRate' | 'accuracy' | 'latency';
export type MetricVerdict = 'pass' | 'fail' | 'wait' | 'skipped';

export interface MetricAnalysis {
  readonly metric: MetricName;
  readonly verdict: MetricVerdict;
  /** The verdict in words, with the numbers behind it. */
  readonly reason: string;
  readonly samples: { readonly champion: number; readonly candidate: number };
  readonly minSamples: number;
  /** Error rate, accuracy or median latency (ms) of each version; null without data. */
  readonly champion: number | null;
  readonly candidate: number | null;
  /** How much worse the candidate is (positive = worse): rate increase, accuracy drop, median latency increase (ms). */
  readonly harm: number | null;
  /** How much harm is tolerated (same unit as harm). */
  readonly margin: number;
  readonly test: 'msprt' | 'z-test' | 'mann-whitney' | null;
  /**
   * p-value of H0 "the candidate is no more than `margin` worse"; small means
   * it is worse by more than the margin. For the mSPRT the always-valid value
   * (smallest over the step's looks so far).
   */
  readonly pValue: number | null;
  /** p-value of H0 "the candidate is at least `margin` worse" (one-sided z-test); small means non-inferior. */
  readonly nonInferiorityPValue: number | null;
}

// Rates are ratios of counts; forgive float noise at the exact boundary
// (0.07 − 0.05 = 0.020000000000000004 is within an allowed 0.02).
const EPSILON = 1e-12;

export interface ProportionMetricInput {
  readonly metric: 'errorRate' | 'accuracy';
  /** The version whose larger proportion is harm (candidate for errors, champion for accuracy) first. */
  readonly worseIfLarger: ProportionSample;
  readonly other: ProportionSample;
  readonly candidateIsFirst: boolean;
  readonly minSamples: number;
  readonly margin: number;
  readonly alpha: number;
  /** null: fixed-sample z-test at this look; a number: mSPRT with this mixture spread. */
  readonly tau: number | null;
  /** The running always-valid p-value before this look (1 at a step's start). */
  readonly previousPValue: number;
  readonly requireNonInferiority: boolean;
}

/**
 * Judges a proportion metric. Harm is p(first) − p(second). Fail: the test of
 * H0 "harm ≤ margin" rejects at alpha (mSPRT running p or one z-test). Pass:
 * enough samples in both versions, no fail, estimated harm ≤ margin (and, if
 * required, the non-inferiority z-test of H0 "harm ≥ margin" rejects at alpha).
 * Wait otherwise. Returns the analysis and the running p-value to carry.
 *
 * @throws {Error} from the tests when counts are inconsistent
 * @example
 * judgeProportion({ metric: 'errorRate', worseIfLarger: { events: 30, trials: 100 },
 *   other: { events: 10, trials: 900 }, candidateIsFirst: true, minSamples: 50, margin: 0.02,
 *   alpha: 0.05, tau: 0.03, previousPValue: 1, requireNonInferiority: false }).analysis.verdict; // => 'fail'
 */
export function judgeProportion(input: ProportionMetricInput): {
  analysis: MetricAnalysis;
  runningPValue: number;
} {
  const { metric, worseIfLarger: first, other: second, minSamples, margin, alpha } = input;
  const [candidate, champion] = input.candidateIsFirst ? [first, second] : [second, first];
  const samples = { champion: champion.trials, candidate: candidate.trials };
  const rate = (s: ProportionSample) => (s.trials > 0 ? s.events / s.trials : null);
  const base = {
    metric,
    samples,
    minSamples,
    champion: rate(champion),
    candidate: rate(candidate),
    margin,
  };
  const name = metric === 'errorRate' ? 'error rate' : 'accuracy';
  const line = `${name}: candidate ${pct(base.candidate)} (${candidate.events}/${candidate.trials}) vs champion ${pct(base.champion)} (${champion.events}/${champion.trials})`;
  if (first.trials < minSamples || second.trials < minSamples) {
    const analysis: MetricAnalysis = {
      ...base,
      verdict: 'wait',
      reason: `${line}: needs ${minSamples} per version`,
      harm: base.champion !== null && base.candidate !== null ? rate(first)! - rate(second)! : null,
      test: null,
      pValue: null,
      nonInferiorityPValue: null,
    };
    return { analysis, runningPValue: input.previousPValue };
  }
  const harm = rate(first)! - rate(second)!;
  let pValue: number;
  let test: 'msprt' | 'z-test';
  if (input.tau !== null) {
    const look = twoProportionMixtureSprt(first, second, {
      tau: input.tau,
      nullDifference: margin,
      alternative: 'greater',
    });
    pValue = alwaysValidPValue(input.previousPValue, look.pValue);
    test = 'msprt';
  } else {
    pValue = twoProportionZTest(first, second, { alternative: 'greater', nullDifference: margin }).pValue;
    test = 'z-test';
  }
  const nonInferiorityPValue = twoProportionZTest(first, second, {
    alternative: 'less',
    nullDifference: margin,
  }).pValue;
  const worse = metric === 'errorRate' ? 'increase' : 'drop';
  const testLine = `${test === 'msprt' ? 'always-valid mSPRT' : 'z-test'} p = ${fmtP(pValue)} for "${worse} > ${points(margin)}"`;
  const stats = `${line}: ${worse} ${points(harm)} (margin ${points(margin)}); ${testLine}`;
  let verdict: MetricVerdict;
  let reason: string;
  if (pValue <= alpha) {
    verdict = 'fail';
    reason = `${stats} ≤ α ${alpha}: significantly worse than the margin`;
  } else if (harm > margin + EPSILON) {
    verdict = 'wait';
    reason = `${stats}: estimate beyond the margin, not yet significant`;
  } else if (input.requireNonInferiority && nonInferiorityPValue > alpha) {
    verdict = 'wait';
    reason = `${stats}; non-inferiority p = ${fmtP(nonInferiorityPValue)} > α ${alpha}: within the margin not yet shown`;
  } else {
    verdict = 'pass';
    reason = `${stats}: within the margin`;
  }
  return {
    analysis: { ...base, verdict, reason, harm, test, pValue, nonInferiorityPValue },
    runningPValue: pValue,
  };
}

export interface LatencyMetricInput {
  readonly champion: readonly number[] | undefined;
  readonly candidate: readonly number[] | undefined;
  readonly minSamples: number;
  /** Allowed increase of the median as a share of the champion's median. */
  readonly maxIncrease: number;
  /** Allowed increase in ms; the margin is the larger of the two. */
  readonly allowanceMs: number;
  readonly alpha: number;
}

/**
 * Judges latency with a one-sided Mann–Whitney U test of the candidate's
 * latencies shifted down by the margin against the champion's: a small p
 * means the candidate is slower by more than the margin. The margin is
 * max(maxIncrease × champion median, allowanceMs), so sub-millisecond noise on
 * a fast model is not a regression. Pass: enough samples, no fail and median
 * increase ≤ margin. Skipped when no latencies were recorded. Rank tests have
 * no always-valid form here, so repeated looks inflate its false-alarm rate a
 * little; the margin and the minimum sample keep that in check.
 *
 * @throws {Error} when a latency is not finite
 * @example
 * // fast: 100 latencies around 10 ms
 * judgeLatency({ champion: fast, candidate: fast.map((ms) => ms + 40), minSamples: 50,
 *   maxIncrease: 0.2, allowanceMs: 5, alpha: 0.05 }).verdict; // => 'fail'
 */
export function judgeLatency(input: LatencyMetricInput): MetricAnalysis {
  const { minSamples, alpha } = input;
  const champion = input.champion ?? [];
  const candidate = input.candidate ?? [];
  const samples = { champion: champion.length, candidate: candidate.length };
  const medianOf = (xs: readonly number[]) => (xs.length > 0 ? median(xs as number[]) : null);
  const championMedian = medianOf(champion);
  const candidateMedian = medianOf(candidate);
  const margin = Math.max(input.maxIncrease * (championMedian ?? 0), input.allowanceMs);
  const harm = championMedian !== null && candidateMedian !== null ? candidateMedian - championMedian : null;
  const base = {
    metric: 'latency' as const,
    samples,
    minSamples,
    champion: championMedian,
    candidate: candidateMedian,
    harm,
    margin,
    nonInferiorityPValue: null,
  };
  const line = `latency: candidate median ${ms(candidateMedian)} (${candidate.length}) vs champion ${ms(championMedian)} (${champion.length})`;
  if (input.champion === undefined || input.candidate === undefined) {
    return { ...base, verdict: 'skipped', reason: 'latency: not recorded', test: null, pValue: null };
  }
  if (champion.length < minSamples || candidate.length < minSamples) {
    return {
      ...base,
      verdict: 'wait',
      reason: `${line}: needs ${minSamples} per version`,
      test: null,
      pValue: null,
    };
  }
  const shifted = candidate.map((x) => x - margin);
  const { pValue } = mannWhitneyU(shifted, champion, { alternative: 'greater', method: 'asymptotic' });
  const stats = `${line}: increase ${ms(harm)} (margin ${ms(margin)}); Mann–Whitney p = ${fmtP(pValue)} for "slower by > ${ms(margin)}"`;
  if (pValue <= alpha) {
    return {
      ...base,
      verdict: 'fail',
      reason: `${stats} ≤ α ${alpha}: significantly slower`,
      test: 'mann-whitney',
      pValue,
    };
  }
  if (harm! > margin) {
    return {
      ...base,
      verdict: 'wait',
      reason: `${stats}: beyond the margin, not yet significant`,
      test: 'mann-whitney',
      pValue,
    };
  }
  return { ...base, verdict: 'pass', reason: `${stats}: within the margin`, test: 'mann-whitney', pValue };
}

function pct(share: number | null): string {
  return share === null ? 'n/a' : `${(share * 100).toFixed(2)}%`;
}

function points(share: number): string {
  return `${(share * 100).toFixed(2)} points`;
}

function ms(value: number | null): string {
  return value === null ? 'n/a' : `${value.toFixed(2)} ms`;
}

function fmtP(p: number): string {
  return p < 1e-4 ? p.toExponential(2) : p.toFixed(4);
}
