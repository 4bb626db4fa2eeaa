import { describe, expect, it } from 'vitest';
import { evaluationGatePolicySchema } from '../../../domain/evaluation/policy';

describe('evaluationGatePolicySchema', () => {
  it('fills every default', () => {
    expect(evaluationGatePolicySchema.parse({})).toEqual({
      primaryMetric: 'accuracy',
      minImprovement: 0.01,
      alpha: 0.05,
      guardrails: [],
      minimums: {},
      minRows: 30,
      threshold: 0.5,
      bootstrapResamples: 2000,
      seed: 42,
    });
    expect(evaluationGatePolicySchema.parse({ slices: { column: 'region', margin: 0.02 } }).slices).toEqual({
      column: 'region',
      margin: 0.02,
      minRows: 30,
    });
  });

  it.each([
    [{ primaryMetric: 'precision' }, 'primaryMetric'],
    [{ alpha: 0 }, 'alpha'],
    [{ guardrails: [{ metric: 'logLoss', margin: -0.1 }] }, 'guardrails'],
    [
      {
        guardrails: [
          { metric: 'f1', margin: 0.1 },
          { metric: 'f1', margin: 0.2 },
        ],
      },
      'guardrails',
    ],
    [{ minimums: { brier: 0.2 } }, 'minimums'],
    [{ bootstrapResamples: 10 }, 'bootstrapResamples'],
    [{ seed: 1.5 }, 'seed'],
  ])('rejects %j (at %s)', (policy, path) => {
    const parsed = evaluationGatePolicySchema.safeParse(policy);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path[0]).toBe(path);
  });
});
