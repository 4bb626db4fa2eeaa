import { seededRandom } from '../random';
import { formatInterval, formatP, formatSigned, formatValue } from './gate-format';
import { checkGuardrail, type GuardrailResult } from './guardrails';
import { discordantCounts, type McNemarResult, mcnemar, mcnemarSmallestPValue } from './mcnemar';
import { checkMinimums, type MinimumResult } from './minimums';
import type { PairedBootstrapResult } from './paired-bootstrap';
import {
  CLASSIFICATION_METRICS,
  type Direction,
  improvementInterval,
  METRIC_DIRECTION,
  metricValue,
  orient,
  predictLabels,
} from './paired-metrics';
import {
  type EvaluationGatePolicy,
  type EvaluationGatePolicyInput,
  type EvaluationMetric,
  evaluationGatePolicySchema,
} from './policy';
import { checkSlices, type SliceResult } from './slices';

/**
 * The evaluation gate: champion and candidate scored on the SAME hold-out
 * rows, and a verdict that rests on statistics rather than on one number
 * edging past another. Pure and seeded, so a workflow may call it and its
 * verdict replays exactly.
 *
 * - pass: the primary metric improves by ≥ minImprovement AND significantly at
 *   α (accuracy: McNemar's test; other metrics: the paired bootstrap interval
 *   of the improvement lies above 0), every guardrail is non-inferior (its
 *   interval's lower bound > −margin) and no segment regresses beyond its margin.
 * - fail: the gain is below minImprovement (or negative), a guardrail or a segment is breached.
 * - inconclusive: the gain is big enough but not significant, there are too
 *   few rows, or too few discordant pairs for McNemar to ever reach α.
 * With no champion the candidate is held to `policy.minimums` instead.
 */

export type EvaluationDecision = 'pass' | 'fail' | 'inconclusive';

export type { GuardrailResult } from './guardrails';
export type { MinimumResult } from './minimums';
export type { SliceResult } from './slices';

export type PrimaryTest =
  | ({ readonly kind: 'mcnemar' } & McNemarResult)
  | ({ readonly kind: 'bootstrap' } & PairedBootstrapResult);

export interface PrimaryResult {
  readonly metric: EvaluationMetric;
  readonly direction: Direction;
  readonly candidate: number;
  readonly champion: number | null;
  /** Oriented: positive means the candidate is better (champion − candidate for lower-is-better metrics). */
  readonly improvement: number | null;
  /** null with no champion or too few rows. A bootstrap interval is of the (oriented) improvement. */
  readonly test: PrimaryTest | null;
  readonly significant: boolean | null;
}

export interface EvaluationGateResult {
  readonly decision: EvaluationDecision;
  /** Human-readable, with the numbers; the first reason is the deciding one. */
  readonly reasons: readonly string[];
  readonly rows: number;
  readonly primary: PrimaryResult;
  readonly guardrails: readonly GuardrailResult[];
  readonly slices: readonly SliceResult[];
  /** Only with no champion. */
  readonly minimums: readonly MinimumResult[];
}

export interface EvaluationGateInput {
  /** Labels 0/1 for classification metrics, numeric targets for rmse/mae. */
  readonly yTrue: ArrayLike<number>;
  /** Per row: probability of class 1 (classification) or the prediction (rmse/mae). */
  readonly candidate: ArrayLike<number>;
  /** Same rows, same order; null before the first promotion. */
  readonly champion: ArrayLike<number> | null;
  /** Segment columns, one value per row, for `policy.slices`. */
  readonly segments?: Readonly<Record<string, ArrayLike<string | number>>>;
  readonly policy: EvaluationGatePolicyInput;
}

// Metrics are ratios of counts: a gain that "equals" minImprovement can be one ulp short.
const EPSILON = 1e-12;

/**
 * @throws {Error} when the arrays differ in length, a label or probability is
 * out of range for a classification metric, the slice column is missing,
 * or the policy is invalid (ZodError)
 * @example
 * evaluationGate({ yTrue, candidate, champion, policy: { primaryMetric: 'accuracy', minImprovement: 0.01 } });
 * // => { decision: 'pass', reasons: ['candidate accuracy 0.8200 vs champion 0.7700: +0.0500 ≥ required +0.0100;
 * //      significant: McNemar (chi2-cc) p = 1.6e-13 < α 0.05 (b = 40, c = 140)'], … }
 */
export function evaluationGate(input: EvaluationGateInput): EvaluationGateResult {
  const policy = evaluationGatePolicySchema.parse(input.policy);
  const { yTrue, candidate, champion } = input;
  checkInputs(input, policy);
  const rows = yTrue.length;
  const metric = policy.primaryMetric;
  const direction = METRIC_DIRECTION[metric];
  const candidateValue = metricValue(metric, yTrue, candidate, policy.threshold);
  const fewRows =
    rows < policy.minRows
      ? `only ${rows} hold-out rows, fewer than the ${policy.minRows} required to decide`
      : null;
  const verdict = (
    decision: EvaluationDecision,
    reasons: readonly string[],
    parts: Partial<EvaluationGateResult>,
  ) => ({
    decision,
    reasons: [...new Set(reasons)],
    rows,
    primary: {
      metric,
      direction,
      candidate: candidateValue,
      champion: null,
      improvement: null,
      test: null,
      significant: null,
    },
    guardrails: [],
    slices: [],
    minimums: [],
    ...parts,
  });

  if (champion === null) {
    const minimums = checkMinimums(policy.minimums, yTrue, candidate, policy.threshold);
    const all = minimums.map((m) => m.reason);
    if (fewRows !== null) return verdict('inconclusive', [fewRows, ...all], { minimums });
    if (!minimums.some((m) => m.metric === metric)) {
      const none = `no champion yet and no minimum for ${metric} in policy.minimums: nothing to hold the candidate to`;
      return verdict('fail', [none, ...all], { minimums });
    }
    const unmet = minimums.filter((m) => !m.met).map((m) => m.reason);
    return verdict(unmet.length > 0 ? 'fail' : 'pass', [...unmet, ...all], { minimums });
  }

  const championValue = metricValue(metric, yTrue, champion, policy.threshold);
  const improvement = orient(metric, candidateValue, championValue);
  const compared = { candidate: candidateValue, champion: championValue, improvement };
  const headline =
    `candidate ${metric} ${formatValue(candidateValue)} vs champion ${formatValue(championValue)}` +
    `${direction === 'lower' ? ' (lower is better)' : ''}: ${formatSigned(improvement)}`;
  if (fewRows !== null) {
    const primary = { metric, direction, ...compared, test: null, significant: null };
    return verdict('inconclusive', [fewRows, `${headline} (not tested)`], { primary });
  }

  const paired = { yTrue, candidate, champion, threshold: policy.threshold };
  const interval = (role: string) => (m: EvaluationMetric) =>
    improvementInterval(m, paired, {
      resamples: policy.bootstrapResamples,
      alpha: policy.alpha,
      random: seededRandom(seedFor(policy.seed, `${role}:${m}`)),
    });
  const { test, significant, tooFewPairs, testReason } =
    metric === 'accuracy' ? mcnemarTest(paired, policy.alpha) : bootstrapTest(interval('primary')(metric));
  const primary: PrimaryResult = { metric, direction, ...compared, test, significant };
  const guardrails = policy.guardrails.map((g) =>
    checkGuardrail(g, paired, policy.threshold, interval('guardrail')),
  );
  const slices =
    policy.slices === undefined
      ? []
      : checkSlices({ ...paired, segments: input.segments }, policy, policy.slices);

  const required = formatSigned(policy.minImprovement);
  const bigEnough = improvement >= policy.minImprovement - EPSILON;
  const primaryReason = !bigEnough
    ? `${headline} < required ${required}`
    : tooFewPairs
      ? `${headline} ≥ required ${required}, but ${testReason}`
      : `${headline} ≥ required ${required}${significant ? '; significant' : ', but not significant'}: ${testReason}`;
  const failures = [
    ...(bigEnough ? [] : [primaryReason]),
    ...guardrails.filter((g) => g.breached).map((g) => g.reason),
    ...slices.filter((s) => s.status === 'regressed').map((s) => s.reason),
  ];
  const decision = failures.length > 0 ? 'fail' : significant && !tooFewPairs ? 'pass' : 'inconclusive';
  const reasons = [...failures, primaryReason, ...guardrails.map((g) => g.reason)];
  return verdict(decision, reasons, { primary, guardrails, slices });
}

interface TestOutcome {
  readonly test: PrimaryTest;
  readonly significant: boolean;
  /** McNemar only: so few discordant pairs that no split could reach α. */
  readonly tooFewPairs: boolean;
  readonly testReason: string;
}

function mcnemarTest(
  rows: {
    yTrue: ArrayLike<number>;
    candidate: ArrayLike<number>;
    champion: ArrayLike<number>;
    threshold: number;
  },
  alpha: number,
): TestOutcome {
  const result = mcnemar(
    discordantCounts({
      championCorrect: correctness(rows.yTrue, rows.champion, rows.threshold),
      candidateCorrect: correctness(rows.yTrue, rows.candidate, rows.threshold),
    }),
  );
  const pairs = result.b + result.c;
  const smallest = mcnemarSmallestPValue(pairs);
  const significant = result.pValue < alpha;
  const tooFewPairs = smallest >= alpha;
  const testReason = tooFewPairs
    ? `only ${pairs} discordant pairs: even all on the candidate's side would give p = ${formatP(smallest)} ≥ α ${alpha}`
    : `McNemar (${result.method}) p = ${formatP(result.pValue)} ${significant ? '<' : '≥'} α ${alpha} (b = ${result.b}, c = ${result.c})`;
  return { test: { kind: 'mcnemar', ...result }, significant, tooFewPairs, testReason };
}

function bootstrapTest(interval: PairedBootstrapResult): TestOutcome {
  const significant = interval.lower > 0;
  const level = `${Math.round(100 * (1 - interval.alpha))}%`;
  const testReason =
    `${level} paired bootstrap CI of the improvement ${formatInterval(interval)} ` +
    `${significant ? 'lies above 0' : 'includes 0'} (${interval.resamples} resamples)`;
  return { test: { kind: 'bootstrap', ...interval }, significant, tooFewPairs: false, testReason };
}

function correctness(yTrue: ArrayLike<number>, scores: ArrayLike<number>, threshold: number): Uint8Array {
  const predicted = predictLabels(scores, threshold);
  for (let i = 0; i < predicted.length; i++) predicted[i] = predicted[i] === yTrue[i] ? 1 : 0;
  return predicted;
}

function checkInputs(input: EvaluationGateInput, policy: EvaluationGatePolicy): void {
  const { yTrue, candidate, champion } = input;
  const n = yTrue.length;
  if (n === 0) throw new Error('evaluationGate: needs at least one hold-out row');
  for (const [name, scores] of [
    ['candidate', candidate],
    ['champion', champion],
  ] as const) {
    if (scores !== null && scores.length !== n) {
      throw new Error(`evaluationGate: ${name} has ${scores.length} scores for ${n} rows`);
    }
  }
  const metrics = [
    policy.primaryMetric,
    ...policy.guardrails.map((g) => g.metric),
    ...(Object.keys(policy.minimums) as EvaluationMetric[]),
  ];
  const classification = metrics.some((m) => CLASSIFICATION_METRICS.has(m));
  for (let i = 0; i < n; i++) {
    const y = yTrue[i]!;
    if (classification ? y !== 0 && y !== 1 : !Number.isFinite(y)) {
      throw new Error(
        `evaluationGate: yTrue[${i}] is ${y}, expected ${classification ? '0 or 1' : 'a finite number'}`,
      );
    }
    for (const [name, scores] of [
      ['candidate', candidate],
      ['champion', champion],
    ] as const) {
      const s = scores?.[i];
      if (s !== undefined && (classification ? !(s >= 0 && s <= 1) : !Number.isFinite(s))) {
        throw new Error(
          `evaluationGate: ${name}[${i}] is ${s}, expected ${classification ? 'a probability' : 'a finite number'}`,
        );
      }
    }
  }
}

/**
 * A seed per test, from the policy seed and the test's name (FNV-1a), so
 * adding a guardrail does not change the resamples of the others.
 */
function seedFor(seed: number, name: string): number {
  let hash = 0x811c9dc5;
  for (const char of `${seed}:${name}`) {
    hash = Math.imul(hash ^ char.codePointAt(0)!, 0x01000193);
  }
  return hash >>> 0;
}
