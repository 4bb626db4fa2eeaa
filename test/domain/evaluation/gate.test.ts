import { describe, expect, it } from 'vitest';
import { evaluationGate } from '../../../domain/evaluation/gate';
import type { EvaluationGatePolicyInput } from '../../../domain/evaluation/policy';
import { holdout, type RowGroup, table } from './gate-rows';

const accuracyGate: EvaluationGatePolicyInput = {
  primaryMetric: 'accuracy',
  minImprovement: 0.01,
  alpha: 0.05,
};

// McNemar p-values in the reasons: statsmodels mcnemar([[1500, 40], [140, 320]], exact=False) → 1.6e-13;
// mcnemar([[300, 6], [14, 80]], exact=True) → 0.115 (scipy.stats.binomtest(6, 20).pvalue = 0.11531829833984375).
describe('evaluationGate with a champion', () => {
  it.each<[string, RowGroup[], EvaluationGatePolicyInput, 'pass' | 'fail' | 'inconclusive', string]>([
    [
      'a significant gain passes',
      table(1500, 40, 140, 320),
      accuracyGate,
      'pass',
      'candidate accuracy 0.8200 vs champion 0.7700: +0.0500 ≥ required +0.0100; significant: McNemar (chi2-cc) p = 1.6e-13 < α 0.05 (b = 40, c = 140)',
    ],
    [
      'a tiny gain (below minImprovement) fails, however significant',
      table(1500, 100, 110, 290),
      accuracyGate,
      'fail',
      'candidate accuracy 0.8050 vs champion 0.8000: +0.0050 < required +0.0100',
    ],
    [
      'a worse candidate fails',
      table(1500, 140, 40, 320),
      accuracyGate,
      'fail',
      'candidate accuracy 0.7700 vs champion 0.8200: -0.0500 < required +0.0100',
    ],
    [
      'a big enough gain that is not significant is inconclusive',
      table(300, 6, 14, 80),
      accuracyGate,
      'inconclusive',
      'candidate accuracy 0.7850 vs champion 0.7650: +0.0200 ≥ required +0.0100, but not significant: McNemar (exact) p = 0.115 ≥ α 0.05 (b = 6, c = 14)',
    ],
    [
      'too few discordant pairs to ever be significant is inconclusive',
      table(300, 0, 5, 95),
      accuracyGate,
      'inconclusive',
      "candidate accuracy 0.7625 vs champion 0.7500: +0.0125 ≥ required +0.0100, but only 5 discordant pairs: even all on the candidate's side would give p = 0.0625 ≥ α 0.05",
    ],
    [
      'too few hold-out rows is inconclusive',
      table(10, 1, 5, 4),
      accuracyGate,
      'inconclusive',
      'only 20 hold-out rows, fewer than the 30 required to decide',
    ],
    [
      'a guardrail breach fails a significant gain',
      table(1500, 40, 140, 320, { candidateWrongScore: 0.01 }),
      { ...accuracyGate, guardrails: [{ metric: 'logLoss', margin: 0.02 }] },
      'fail',
      'guardrail logLoss: candidate 1.0119 vs champion 0.4487 (lower is better), improvement -0.5632; 95% CI [-0.6256, -0.5020] not above -0.0200 (margin 0.0200): not shown non-inferior',
    ],
    [
      'guardrails that hold let a significant gain pass',
      table(1500, 40, 140, 320),
      {
        ...accuracyGate,
        guardrails: [
          { metric: 'logLoss', margin: 0.02 },
          { metric: 'f1', margin: 0.01 },
        ],
      },
      'pass',
      'candidate accuracy 0.8200 vs champion 0.7700: +0.0500 ≥ required +0.0100; significant: McNemar (chi2-cc) p = 1.6e-13 < α 0.05 (b = 40, c = 140)',
    ],
    [
      'a segment that regresses beyond its margin fails a significant overall gain',
      [
        ...table(1200, 10, 140, 250, { segment: 'us' }),
        ...table(300, 30, 0, 70, { segment: 'eu' }),
        ...table(10, 0, 0, 5, { segment: 'apac' }),
      ],
      { ...accuracyGate, slices: { column: 'region', margin: 0.03, minRows: 30 } },
      'fail',
      'slice region=eu (400 rows): accuracy 0.7500 vs champion 0.8250, -0.0750 beyond margin 0.0300',
    ],
    [
      'a significant log-loss gain passes on the bootstrap',
      table(1500, 40, 140, 320),
      { primaryMetric: 'logLoss', minImprovement: 0.01 },
      'pass',
      'candidate logLoss 0.3997 vs champion 0.4487 (lower is better): +0.0490 ≥ required +0.0100; significant: 95% paired bootstrap CI of the improvement [+0.0358, +0.0618] lies above 0 (2000 resamples)',
    ],
    [
      // AUC resamples rows (RowResampler): its bounds are this seed's draws; the
      // row resampler before it gave [-0.0006, +0.0194], within Monte Carlo error.
      'an AUC gain whose bootstrap interval includes 0 is inconclusive',
      table(300, 6, 14, 80),
      { primaryMetric: 'rocAuc', minImprovement: 0 },
      'inconclusive',
      'candidate rocAuc 0.9538 vs champion 0.9448: +0.0090 ≥ required +0.0000, but not significant: 95% paired bootstrap CI of the improvement [-0.0006, +0.0197] includes 0 (2000 resamples)',
    ],
  ])('%s', (_name, groups, policy, decision, firstReason) => {
    const result = evaluationGate({ ...holdout(groups), policy });
    expect(result.decision).toBe(decision);
    expect(result.reasons[0]).toBe(firstReason);
  });

  it('reports the test, the guardrails and every segment', () => {
    const groups = [
      ...table(1200, 10, 140, 250, { segment: 'us' }),
      ...table(10, 0, 0, 5, { segment: 'apac' }),
    ];
    const result = evaluationGate({
      ...holdout(groups),
      policy: {
        ...accuracyGate,
        guardrails: [{ metric: 'rocAuc', margin: 0.01 }],
        slices: { column: 'region', margin: 0.03, minRows: 30 },
      },
    });
    expect(result.primary).toMatchObject({ metric: 'accuracy', direction: 'higher', significant: true });
    expect(result.primary.test).toMatchObject({ kind: 'mcnemar', b: 10, c: 140, method: 'chi2-cc' });
    expect(result.guardrails).toEqual([
      expect.objectContaining({ metric: 'rocAuc', margin: 0.01, breached: false }),
    ]);
    expect(result.slices.map((s) => [s.value, s.rows, s.status])).toEqual([
      ['apac', 15, 'skipped'],
      ['us', 1600, 'ok'],
    ]);
  });

  it('is deterministic for a seed, and a guardrail does not change the others', () => {
    const data = holdout(table(300, 6, 14, 80));
    const policy = { ...accuracyGate, guardrails: [{ metric: 'logLoss' as const, margin: 0.05 }], seed: 7 };
    const first = evaluationGate({ ...data, policy });
    expect(evaluationGate({ ...data, policy })).toEqual(first);
    const reseeded = evaluationGate({ ...data, policy: { ...policy, seed: 8 } });
    expect(reseeded.guardrails[0]!.interval.lower).not.toBe(first.guardrails[0]!.interval.lower);
    const more = evaluationGate({
      ...data,
      policy: { ...policy, guardrails: [{ metric: 'rocAuc' as const, margin: 0.05 }, ...policy.guardrails] },
    });
    expect(more.guardrails[1]!.interval).toEqual(first.guardrails[0]!.interval);
  });
});

describe('evaluationGate for the first model (no champion)', () => {
  const data = { ...holdout(table(1500, 40, 140, 320)), champion: null };
  it.each<[string, EvaluationGatePolicyInput, 'pass' | 'fail', string]>([
    [
      'above the absolute thresholds',
      { minimums: { accuracy: 0.7, logLoss: 0.6 } },
      'pass',
      'no champion yet: candidate accuracy 0.8200 ≥ required minimum 0.7000',
    ],
    [
      'below the minimum accuracy',
      { minimums: { accuracy: 0.9 } },
      'fail',
      'no champion yet: candidate accuracy 0.8200 < required minimum 0.9000',
    ],
    [
      'above the maximum log-loss',
      { minimums: { accuracy: 0.7, logLoss: 0.3 } },
      'fail',
      'no champion yet: candidate logLoss 0.3997 > required maximum 0.3000',
    ],
    [
      'no minimum for the primary metric',
      { minimums: { logLoss: 0.6 } },
      'fail',
      'no champion yet and no minimum for accuracy in policy.minimums: nothing to hold the candidate to',
    ],
  ])('%s → %s', (_name, policy, decision, firstReason) => {
    const result = evaluationGate({ ...data, policy });
    expect(result.decision).toBe(decision);
    expect(result.reasons[0]).toBe(firstReason);
    expect(result.primary).toMatchObject({ champion: null, improvement: null, test: null });
  });
});

describe('evaluationGate input checks', () => {
  const data = holdout(table(30, 5, 5, 10));
  it.each([
    [
      { ...data, candidate: data.candidate.slice(1) },
      {},
      'evaluationGate: candidate has 49 scores for 50 rows',
    ],
    [{ ...data, yTrue: data.yTrue.map((y) => y * 2) }, {}, 'evaluationGate: yTrue[1] is 2, expected 0 or 1'],
    [
      { ...data, champion: data.champion.map(() => 1.5) },
      {},
      'evaluationGate: champion[0] is 1.5, expected a probability',
    ],
    [
      data,
      { slices: { column: 'country', margin: 0.01 } },
      "evaluationGate: slice column 'country' is not among the segments (given: region)",
    ],
  ])('rejects bad input (%#)', (input, policy, message) => {
    expect(() => evaluationGate({ ...input, policy })).toThrow(message);
  });
});
