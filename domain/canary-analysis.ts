import type { CanaryPolicy } from './policy';

/**
 * Judges one canary step from what the gateway recorded for each version
 * since the step began. Called on every poll; the run rolls back on 'fail',
 * moves to the next step on 'pass', applies policy.onInconclusive on
 * 'inconclusive' and polls again on 'wait'.
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
}

export type CanaryVerdict = 'pass' | 'fail' | 'wait' | 'inconclusive';

// Rates are ratios of counts; forgive float noise at the exact boundary
// (0.07 − 0.05 = 0.020000000000000004 must not exceed an allowed 0.02).
const EPSILON = 1e-12;

/**
 * Rules, in order:
 * 1. fail when candidate error rate − champion error rate > maxErrorRateIncrease,
 *    judged once the candidate has minRequests requests, or earlier when its
 *    errors alone already guarantee that outcome;
 * 2. fail when both versions have ≥ minLabelled labelled predictions and
 *    champion accuracy − candidate accuracy > maxAccuracyDrop;
 * 3. pass when the candidate has ≥ minRequests requests and the step has run
 *    ≥ stepMinSeconds;
 * 4. inconclusive when the step has run ≥ stepMaxSeconds;
 * 5. otherwise wait.
 *
 * @throws {Error} when counts are negative or inconsistent (errors > requests,
 * correct > labelled) or elapsedSeconds is negative
 * @example
 * canaryStepVerdict({
 *   champion: { requests: 900, errors: 9, labelled: 0, correct: 0, latencyMsP50: 12 },
 *   candidate: { requests: 100, errors: 1, labelled: 0, correct: 0, latencyMsP50: 13 },
 *   elapsedSeconds: 60, policy,
 * }).verdict; // => 'pass' with the default policy
 */
export function canaryStepVerdict(input: {
  champion: VersionTraffic;
  candidate: VersionTraffic;
  elapsedSeconds: number;
  policy: CanaryPolicy;
}): { verdict: CanaryVerdict; reasons: string[] } {
  const { champion, candidate, elapsedSeconds, policy } = input;
  checkTraffic('champion', champion);
  checkTraffic('candidate', candidate);
  if (!(elapsedSeconds >= 0)) {
    throw new Error(`canaryStepVerdict: elapsedSeconds must be ≥ 0, got ${elapsedSeconds}`);
  }

  const reasons: string[] = [];
  const fails: string[] = [];

  // With no champion traffic (first deployment, or the 100 % step) there is
  // nothing to compare against; taking its error rate as 0 holds the candidate
  // to the absolute bar maxErrorRateIncrease.
  const championRate = champion.requests > 0 ? champion.errors / champion.requests : 0;
  const candidateRate = candidate.requests > 0 ? candidate.errors / candidate.requests : 0;
  const allowedRate = championRate + policy.maxErrorRateIncrease;
  const errorLine = `candidate error rate ${pct(candidateRate)} (${candidate.errors}/${candidate.requests}) vs champion ${pct(championRate)} (${champion.errors}/${champion.requests})`;
  const enoughRequests = candidate.requests >= policy.minRequests;
  if (enoughRequests) {
    const increase = candidateRate - championRate;
    if (increase > policy.maxErrorRateIncrease + EPSILON) {
      fails.push(
        `${errorLine}: increase ${points(increase)} > allowed ${points(policy.maxErrorRateIncrease)}`,
      );
    } else {
      reasons.push(
        `${errorLine}: increase ${points(increase)} ≤ allowed ${points(policy.maxErrorRateIncrease)}`,
      );
    }
  } else {
    // Early fail. At the judging point the candidate will have at least
    // minRequests requests and at least the errors it has now, so its rate
    // there can be no lower than errors / minRequests (every remaining request
    // succeeding). If even that best case is over the limit, waiting for more
    // traffic only sends more users to a broken model.
    const bestCase = candidate.errors / policy.minRequests;
    if (bestCase > allowedRate + EPSILON) {
      fails.push(
        `${errorLine}: ${candidate.errors} errors already exceed the limit — even if all ${policy.minRequests - candidate.requests} remaining requests up to ${policy.minRequests} succeed, the rate would be ≥ ${pct(bestCase)} > allowed ${pct(allowedRate)}`,
      );
    } else {
      reasons.push(`${errorLine}: judged at ${policy.minRequests} candidate requests`);
    }
  }

  if (candidate.labelled >= policy.minLabelled && champion.labelled >= policy.minLabelled) {
    const championAcc = champion.correct / champion.labelled;
    const candidateAcc = candidate.correct / candidate.labelled;
    const drop = championAcc - candidateAcc;
    const accLine = `candidate accuracy ${pct(candidateAcc)} (${candidate.correct}/${candidate.labelled}) vs champion ${pct(championAcc)} (${champion.correct}/${champion.labelled})`;
    if (drop > policy.maxAccuracyDrop + EPSILON) {
      fails.push(`${accLine}: drop ${points(drop)} > allowed ${points(policy.maxAccuracyDrop)}`);
    } else {
      reasons.push(`${accLine}: drop ${points(drop)} ≤ allowed ${points(policy.maxAccuracyDrop)}`);
    }
  } else {
    reasons.push(
      `accuracy not judged: needs ${policy.minLabelled} labelled predictions per version (candidate ${candidate.labelled}, champion ${champion.labelled})`,
    );
  }

  if (fails.length > 0) return { verdict: 'fail', reasons: [...fails, ...reasons] };

  if (enoughRequests && elapsedSeconds >= policy.stepMinSeconds) {
    return {
      verdict: 'pass',
      reasons: [
        `healthy: ${candidate.requests} ≥ ${policy.minRequests} candidate requests after ${elapsedSeconds}s (minimum ${policy.stepMinSeconds}s)`,
        ...reasons,
      ],
    };
  }
  if (elapsedSeconds >= policy.stepMaxSeconds) {
    return {
      verdict: 'inconclusive',
      reasons: [
        `step reached its ${policy.stepMaxSeconds}s limit with ${candidate.requests}/${policy.minRequests} candidate requests`,
        ...reasons,
      ],
    };
  }
  const waitingFor = enoughRequests
    ? `the step minimum ${policy.stepMinSeconds}s (at ${elapsedSeconds}s)`
    : `${policy.minRequests} candidate requests (have ${candidate.requests}, at ${elapsedSeconds}s of ${policy.stepMaxSeconds}s)`;
  return { verdict: 'wait', reasons: [`waiting for ${waitingFor}`, ...reasons] };
}

function checkTraffic(role: string, t: VersionTraffic): void {
  const counts = [t.requests, t.errors, t.labelled, t.correct];
  if (!counts.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new Error(`canaryStepVerdict: ${role} counts must be non-negative integers`);
  }
  if (t.errors > t.requests) {
    throw new Error(`canaryStepVerdict: ${role} has more errors (${t.errors}) than requests (${t.requests})`);
  }
  if (t.correct > t.labelled) {
    throw new Error(
      `canaryStepVerdict: ${role} has more correct (${t.correct}) than labelled (${t.labelled})`,
    );
  }
}

function pct(share: number): string {
  return `${(share * 100).toFixed(2)}%`;
}

function points(share: number): string {
  return `${(share * 100).toFixed(2)} points`;
}
