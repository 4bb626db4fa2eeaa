import { judgeLatency, judgeProportion, type MetricAnalysis } from './canary/metric-verdicts';
import type { CanaryPolicy } from './policy';

/**
 * Judges one canary step from what the gateway recorded for each version
 * since the step began (the same window for both). Called on every poll; the
 * run rolls back on 'fail', moves to the next step on 'pass', applies
 * policy.onInconclusive on 'inconclusive' and polls again on 'wait'.
 */

export interface VersionTraffic {
  readonly requests: number;
  /** Requests that failed (5xx, timeout, prediction error). */
  readonly errors: number;
  /** Predictions for which feedback (the true label) has arrived. */
  readonly labelled: number;
  /** Labelled predictions that were right. */
  readonly correct: number;
  readonly latencyMsP50: number | null;
  /** Latencies (ms) of the most recent requests, at most policy.latencySampleSize; absent: latency is not judged. */
  readonly latencyMs?: readonly number[];
}

export type CanaryVerdict = 'pass' | 'fail' | 'wait' | 'inconclusive';

/**
 * What the sequential tests carry from one look to the next within a step:
 * each metric's always-valid p-value so far (1 at the step's start).
 */
export interface CanarySequentialState {
  readonly errorRate: number;
  readonly accuracy: number;
}

export const FRESH_SEQUENTIAL_STATE: CanarySequentialState = { errorRate: 1, accuracy: 1 };

export interface CanaryStepInput {
  readonly champion: VersionTraffic;
  readonly candidate: VersionTraffic;
  readonly elapsedSeconds: number;
  readonly policy: CanaryPolicy;
  /** The state the previous look of this step returned; omit at a step's first look. */
  readonly previous?: CanarySequentialState;
}

export interface CanaryStepAnalysis {
  readonly verdict: CanaryVerdict;
  /** The verdict first, then one line per metric. */
  readonly reasons: string[];
  readonly metrics: {
    readonly errorRate: MetricAnalysis;
    readonly accuracy: MetricAnalysis;
    readonly latency: MetricAnalysis;
  };
  /** Pass to the next look of the same step as `previous`. */
  readonly sequential: CanarySequentialState;
}

/**
 * Compares candidate with champion on three metrics, each with a minimum
 * sample per version (minRequests, minLabelled) and a practical margin:
 * - error rate: fails when the candidate's rate is significantly more than
 *   maxErrorRateIncrease above the champion's (one-sided mSPRT, or a z-test
 *   when policy.sequential is false);
 * - accuracy on labelled feedback: the same test for a drop beyond maxAccuracyDrop;
 * - latency: fails when the candidate is significantly slower than the
 *   champion plus max(maxLatencyIncrease × champion median, latencyAllowanceMs)
 *   (one-sided Mann–Whitney U).
 * Step verdict: 'fail' as soon as any metric fails (the sequential tests can
 * stop a bad canary at any look); 'pass' once every judged metric passes
 * (enough samples, no failure, estimate within its margin) and the step has
 * run stepMinSeconds; 'inconclusive' at stepMaxSeconds; otherwise 'wait'.
 * Accuracy without enough labels does not block a pass when requireQuality
 * is false; latency is skipped when the traffic carries no latencies.
 *
 * @throws {Error} when counts are negative or inconsistent (errors > requests,
 * correct > labelled), elapsedSeconds is negative or a previous p-value is outside [0, 1]
 * @example
 * analyzeCanaryStep({
 *   champion: { requests: 900, errors: 9, labelled: 900, correct: 810, latencyMsP50: 12 },
 *   candidate: { requests: 100, errors: 1, labelled: 100, correct: 91, latencyMsP50: 13 },
 *   elapsedSeconds: 60, policy,
 * }).verdict; // => 'pass' with the default policy
 */
export function analyzeCanaryStep(input: CanaryStepInput): CanaryStepAnalysis {
  const { champion, candidate, elapsedSeconds, policy } = input;
  checkTraffic('champion', champion);
  checkTraffic('candidate', candidate);
  if (!(elapsedSeconds >= 0)) {
    throw new Error(`analyzeCanaryStep: elapsedSeconds must be ≥ 0, got ${elapsedSeconds}`);
  }
  const previous = input.previous ?? FRESH_SEQUENTIAL_STATE;
  const sequential = policy.sequential;

  const errorRate = judgeProportion({
    metric: 'errorRate',
    worseIfLarger: { events: candidate.errors, trials: candidate.requests },
    other: { events: champion.errors, trials: champion.requests },
    candidateIsFirst: true,
    minSamples: policy.minRequests,
    margin: policy.maxErrorRateIncrease,
    alpha: policy.alpha,
    tau: sequential ? policy.mixtureSd.errorRate : null,
    previousPValue: previous.errorRate,
    requireNonInferiority: policy.requireNonInferiority,
  });
  const accuracy = judgeProportion({
    metric: 'accuracy',
    worseIfLarger: { events: champion.correct, trials: champion.labelled },
    other: { events: candidate.correct, trials: candidate.labelled },
    candidateIsFirst: false,
    minSamples: policy.minLabelled,
    margin: policy.maxAccuracyDrop,
    alpha: policy.alpha,
    tau: sequential ? policy.mixtureSd.accuracy : null,
    previousPValue: previous.accuracy,
    requireNonInferiority: policy.requireNonInferiority,
  });
  const latency = judgeLatency({
    champion: champion.latencyMs,
    candidate: candidate.latencyMs,
    minSamples: Math.min(policy.minRequests, policy.latencySampleSize),
    maxIncrease: policy.maxLatencyIncrease,
    allowanceMs: policy.latencyAllowanceMs,
    alpha: policy.alpha,
  });

  const quality: MetricAnalysis =
    !policy.requireQuality && accuracy.analysis.verdict === 'wait' && accuracy.analysis.test === null
      ? {
          ...accuracy.analysis,
          verdict: 'skipped',
          reason: `${accuracy.analysis.reason} (not required to pass)`,
        }
      : accuracy.analysis;
  const metrics = { errorRate: errorRate.analysis, accuracy: quality, latency };
  const all = [metrics.errorRate, metrics.accuracy, metrics.latency];
  const lines = all.map((m) => `${m.verdict}: ${m.reason}`);
  const state = { errorRate: errorRate.runningPValue, accuracy: accuracy.runningPValue };
  const result = (verdict: CanaryVerdict, summary: string): CanaryStepAnalysis => ({
    verdict,
    reasons: [summary, ...lines],
    metrics,
    sequential: state,
  });

  const failed = all.filter((m) => m.verdict === 'fail');
  if (failed.length > 0) {
    return result('fail', `${failed.map((m) => m.metric).join(' and ')} failed after ${elapsedSeconds}s`);
  }
  const pending = all.filter((m) => m.verdict === 'wait');
  if (pending.length === 0 && elapsedSeconds >= policy.stepMinSeconds) {
    const judged = all.filter((m) => m.verdict === 'pass').map((m) => m.metric);
    return result('pass', `healthy after ${elapsedSeconds}s: ${judged.join(', ')} within their margins`);
  }
  const waitingFor =
    pending.length > 0
      ? pending.map((m) => m.metric).join(', ')
      : `the step minimum ${policy.stepMinSeconds}s`;
  if (elapsedSeconds >= policy.stepMaxSeconds) {
    return result(
      'inconclusive',
      `step reached its ${policy.stepMaxSeconds}s limit still waiting for ${waitingFor}`,
    );
  }
  return result('wait', `waiting for ${waitingFor} (at ${elapsedSeconds}s of ${policy.stepMaxSeconds}s)`);
}

/**
 * The canary's per-poll verdict; the same analysis as analyzeCanaryStep
 * under the name the run workflow has always called.
 *
 * @throws {Error} as analyzeCanaryStep
 * @example
 * canaryStepVerdict({ champion, candidate, elapsedSeconds: 30, policy }).verdict; // => 'wait'
 */
export function canaryStepVerdict(input: CanaryStepInput): CanaryStepAnalysis {
  return analyzeCanaryStep(input);
}

function checkTraffic(role: string, t: VersionTraffic): void {
  const counts = [t.requests, t.errors, t.labelled, t.correct];
  if (!counts.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new Error(`analyzeCanaryStep: ${role} counts must be non-negative integers`);
  }
  if (t.errors > t.requests) {
    throw new Error(`analyzeCanaryStep: ${role} has more errors (${t.errors}) than requests (${t.requests})`);
  }
  if (t.correct > t.labelled) {
    throw new Error(
      `analyzeCanaryStep: ${role} has more correct (${t.correct}) than labelled (${t.labelled})`,
    );
  }
}
