import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../../api/client';
import {
  bootstrapChampion,
  fastPolicy,
  registerModel,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

/** Accuracy must stay at or above 0.8; below it for 30 s (3 points at least) asks for a retrain. */
const performance = {
  metrics: {
    accuracy: { threshold: 0.8, direction: 'below', windowSeconds: 30, minPoints: 3, minCoverage: 0.2 },
  },
};

describe('performance alarms: production accuracy that stays low starts a retrain', () => {
  let stack: Stack;
  let api: Api;
  /** A monitoring job with a `trigger` token: it may send metrics, not register models. */
  let monitor: Api;
  let baseline: string;
  // Points are placed in time with observedAt (in the recent past) instead of waiting.
  const start = Date.now() - 10 * 60_000;
  const at = (seconds: number) => new Date(start + seconds * 1000).toISOString();

  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    monitor = stack.api('monitor');
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 91 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const runsOf = async (model: string) => (await api('GET', `/v1/models/${model}/runs`)).body.runs;

  it('starts one performance run when accuracy stays below the threshold for the window, with the alarm as its cause', async () => {
    const model = 'perf-sustained';
    await bootstrapChampion(api, model, baseline, fastPolicy({ performance }), stack.api('alice'));
    const post = (points: object[]) =>
      monitor('POST', `/v1/models/${model}/metrics`, { points, source: 'label-join' });

    const early = await post([
      { metric: 'accuracy', value: 0.91, coverage: 0.8, samples: 400, observedAt: at(0) },
      { metric: 'accuracy', value: 0.72, coverage: 0.7, samples: 380, observedAt: at(10) },
      { metric: 'accuracy', value: 0.7, coverage: 0.7, samples: 390, observedAt: at(20) },
    ]);
    expect(early.status).toBe(200);
    expect(early.body.judgedVersion).toBe(1);
    expect(early.body.metrics).toEqual([
      expect.objectContaining({ metric: 'accuracy', decision: 'ok', trigger: null }),
    ]);
    expect(early.body.metrics[0].reasons[0]).toMatch(/only for 10 s of the 30 s window: not sustained/);

    const sustained = await post([
      { metric: 'accuracy', value: 0.69, coverage: 0.6, samples: 410, observedAt: at(30) },
      { metric: 'accuracy', value: 0.71, coverage: 0.65, samples: 420, observedAt: at(40) },
    ]);
    expect(sustained.status).toBe(202);
    const [judged] = sustained.body.metrics;
    expect(judged).toMatchObject({ decision: 'alarm', threshold: 0.8, windowSeconds: 30, points: 4 });
    expect(judged.trigger).toMatchObject({ fate: 'started' });

    // The alarm goes on: recorded and judged again, but the same episode does not trigger twice.
    const continuing = await post([{ metric: 'accuracy', value: 0.68, coverage: 0.6, observedAt: at(50) }]);
    expect(continuing.status).toBe(200);
    expect(continuing.body.metrics[0]).toMatchObject({
      decision: 'alarm',
      trigger: { fate: 'deduplicated', runId: judged.trigger.runId },
    });

    const run = await waitForRun(api, model, judged.trigger.runId, () => true);
    expect(run.causes).toHaveLength(1);
    expect(run.causes[0]).toMatchObject({
      reason: 'performance',
      requestedBy: 'monitor',
      details: {
        metric: 'accuracy',
        version: 1,
        threshold: 0.8,
        direction: 'below',
        windowSeconds: 30,
        episodeStart: at(10),
        windowStart: at(10),
        asOf: at(40),
        points: [
          { observedAt: at(10), value: 0.72, coverage: 0.7, samples: 380 },
          { observedAt: at(20), value: 0.7, coverage: 0.7, samples: 390 },
          { observedAt: at(30), value: 0.69, coverage: 0.6, samples: 410 },
          { observedAt: at(40), value: 0.71, coverage: 0.65, samples: 420 },
        ],
      },
    });
    expect(await runsOf(model)).toHaveLength(2);

    const listed = await api(
      'GET',
      `/v1/models/${model}/metrics?metric=accuracy&since=${encodeURIComponent(at(25))}`,
    );
    expect(listed.status).toBe(200);
    expect(listed.body.points.map((p: { value: number }) => p.value)).toEqual([0.69, 0.71, 0.68]);
    expect(listed.body.points[0]).toMatchObject({ version: 1, source: 'label-join', samples: 410 });
  });

  it('does not retrain for a single dip, or for points with too little label coverage', async () => {
    const model = 'perf-quiet';
    await registerModel(api, model, baseline, fastPolicy({ performance }));
    const post = (points: object[]) => api('POST', `/v1/models/${model}/metrics`, { points });

    const dip = await post([
      { metric: 'accuracy', value: 0.9, observedAt: at(0) },
      { metric: 'accuracy', value: 0.88, observedAt: at(15) },
      { metric: 'accuracy', value: 0.9, observedAt: at(30) },
      { metric: 'accuracy', value: 0.55, observedAt: at(45) },
    ]);
    expect(dip.status).toBe(200);
    expect(dip.body.metrics[0]).toMatchObject({ decision: 'ok', trigger: null });

    // Low values for a whole minute, but each from 5 % of the predictions: no evidence either way.
    const thin = await post(
      [60, 70, 80, 90, 100, 110, 120].map((s) => ({
        metric: 'accuracy',
        value: 0.4,
        coverage: 0.05,
        observedAt: at(s),
      })),
    );
    expect(thin.status).toBe(200);
    expect(thin.body.metrics[0]).toMatchObject({ decision: 'ok', trigger: null });
    expect(thin.body.metrics[0].reasons).toContain(
      '7 point(s) with label coverage below 0.2 are not evidence',
    );

    // A model that has only ever had thin points has nothing to judge.
    const other = 'perf-thin';
    await registerModel(api, other, baseline, fastPolicy({ performance }));
    const only = await api('POST', `/v1/models/${other}/metrics`, {
      points: [0, 20, 40].map((s) => ({ metric: 'accuracy', value: 0.3, coverage: 0.1, observedAt: at(s) })),
    });
    expect(only.status).toBe(200);
    expect(only.body.metrics[0]).toMatchObject({ decision: 'insufficient', trigger: null });

    expect(await runsOf(model)).toEqual([]);
    expect(await runsOf(other)).toEqual([]);
  });

  it('records a metric the policy does not monitor, and says so', async () => {
    const model = 'perf-unmonitored';
    await registerModel(api, model, baseline, fastPolicy({ performance }));
    const res = await api('POST', `/v1/models/${model}/metrics`, {
      points: [
        { metric: 'auc', value: 0.1, observedAt: at(0) },
        { metric: 'auc', value: 0.1, observedAt: at(60) },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      recorded: 2,
      judgedVersion: null,
      metrics: [{ metric: 'auc', monitored: false, decision: 'not_monitored', trigger: null }],
    });
    expect(res.body.metrics[0].reasons[0]).toMatch(/does not monitor auc/);
    expect((await api('GET', `/v1/models/${model}/metrics`)).body.points).toHaveLength(2);
  });

  it.each([
    [
      'a value that is not a number (NaN becomes null in JSON)',
      { points: [{ metric: 'accuracy', value: Number.NaN }] },
      'points.0.value',
    ],
    [
      'a value sent as the string "NaN"',
      { points: [{ metric: 'accuracy', value: 'NaN' }] },
      'points.0.value',
    ],
    [
      'coverage above 1',
      { points: [{ metric: 'accuracy', value: 0.8, coverage: 1.2 }] },
      'points.0.coverage',
    ],
    [
      'negative coverage',
      { points: [{ metric: 'accuracy', value: 0.8, coverage: -0.1 }] },
      'points.0.coverage',
    ],
    [
      'a date that is not one',
      { points: [{ metric: 'accuracy', value: 0.8, observedAt: 'yesterday' }] },
      'points.0.observedAt',
    ],
    [
      'a date without a time zone',
      { points: [{ metric: 'accuracy', value: 0.8, observedAt: '2025-01-01T00:00:00' }] },
      'points.0.observedAt',
    ],
    [
      'a date a day ahead',
      {
        points: [
          { metric: 'accuracy', value: 0.8, observedAt: new Date(Date.now() + 86_400_000).toISOString() },
        ],
      },
      'points.0.observedAt',
    ],
    ['no points', { points: [] }, 'points'],
    ['a bad metric name', { points: [{ metric: 'acc uracy', value: 0.8 }] }, 'points.0.metric'],
  ])('refuses %s with a 400 naming the field', async (_name, body, path) => {
    const model = 'perf-validation';
    if ((await api('GET', `/v1/models/${model}`)).status === 404) {
      await registerModel(api, model, baseline, fastPolicy({ performance }));
    }
    const res = await api('POST', `/v1/models/${model}/metrics`, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request' });
    expect(res.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(path);
    expect((await api('GET', `/v1/models/${model}/metrics`)).body.points).toEqual([]);
  });

  it('answers 404 for an unknown model, 403 for a viewer, and 400 for a bad query', async () => {
    const post = await api('POST', '/v1/models/no-such-model/metrics', {
      points: [{ metric: 'accuracy', value: 0.5 }],
    });
    expect(post.status).toBe(404);
    expect(post.body.error).toMatchObject({ code: 'not_found', details: { model: 'no-such-model' } });
    expect((await api('GET', '/v1/models/no-such-model/metrics')).status).toBe(404);
    const viewer = await stack.api('vera')('POST', '/v1/models/perf-unmonitored/metrics', {
      points: [{ metric: 'accuracy', value: 0.5 }],
    });
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.code).toBe('forbidden');
    const badSince = await api('GET', '/v1/models/perf-unmonitored/metrics?since=last-week');
    expect(badSince.status).toBe(400);
    expect(badSince.body.error.code).toBe('invalid_request');
  });
});
