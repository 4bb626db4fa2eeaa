/**
 * The V2 (Open Inference Protocol) serving adapter against a real MLServer
 * process running ctloop's runtime: a version is loaded through the
 * repository API and answers exactly what ctloop computes itself; a restart
 * of the server loads it again from its repository; errors say what the
 * server said.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../domain/csv';
import { fitLogReg } from '../../domain/logistic-regression';
import { predictServable } from '../../domain/servable-model';
import { generateDataset } from '../../domain/synthetic-data';
import { type MlServerProcess, startMlServer } from '../../scripts/lib/mlserver';
import {
  fastPolicy,
  registerModel,
  sendTraffic,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { createV2Server, V2ServerError } from '../../serving/v2-server';
import { type Stack, startStack } from '../helpers/stack';

describe('the V2 serving adapter on MLServer', () => {
  let server: MlServerProcess;
  beforeAll(async () => {
    server = await startMlServer();
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  });

  const table = parseCsv(generateDataset({ rows: 300, seed: 9 }));
  const features = table.columns.filter((c) => c !== 'label');
  const X = table.rows.map((r) => features.map((f) => Number(r[table.columns.indexOf(f)])));
  const y = table.rows.map((r) => Number(r[table.columns.indexOf('label')]));

  it('loads a version and answers what ctloop computes, missing values included', async () => {
    const v2 = createV2Server({ url: server.url, repository: server.repository });
    const model = fitLogReg(X, y, { epochs: 50, learningRate: 0.5, l2: 0.001, seed: 1 }, features);
    await v2.load('churn', 3, model);
    const rows = [...X.slice(0, 20), [null, 1, null, -2]];
    const answers = await v2.infer('churn', 3, rows);
    const expected = rows.map((r) => predictServable(model, r));
    for (const [i, p] of answers.entries()) expect(p).toBeCloseTo(expected[i]!, 12);

    // A restarted server loads what its repository holds.
    await server.stop();
    await server.restart();
    expect(await v2.infer('churn', 3, [X[0]!])).toEqual([answers[0]]);
  }, 120_000);

  it('says what the server said when it refuses, and when it is gone', async () => {
    const v2 = createV2Server({ url: server.url, repository: server.repository });
    const refused = await v2.infer('churn', 99, [X[0]!]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(V2ServerError);
    expect((refused as V2ServerError).status).toBe(404);
    const bad = await v2.load('broken', 1, { kind: 'tree' } as never).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(V2ServerError);
    expect((bad as Error).message).toMatch(/unknown artifact kind 'tree'|features/);
    const gone = createV2Server({ url: 'http://127.0.0.1:1', repository: server.repository });
    const unreachable = await gone.infer('churn', 3, [X[0]!]).catch((e: unknown) => e);
    expect((unreachable as Error).message).toMatch(/model server http:\/\/127.0.0.1:1 unreachable/);
  });
});

describe('a model served by MLServer through the gateway', () => {
  let server: MlServerProcess;
  let stack: Stack;
  beforeAll(async () => {
    server = await startMlServer();
    stack = await startStack({
      v2Server: createV2Server({ url: server.url, repository: server.repository }),
    });
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
    await server?.stop();
  });

  const predict = (model: string, features: Record<string, number>) =>
    stack.app.request(`/v1/models/${model}/predict`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.tokens.vera}`, 'content-type': 'application/json' },
      body: JSON.stringify({ features, key: 'k1' }),
    });

  it('infra-validates each candidate on the server, canaries through it, and never routes to one that did not load', async () => {
    const model = 'served-v2';
    const policy = fastPolicy({
      approval: { required: false },
      serving: { backend: 'v2', smokeRequests: 20 },
    });
    const baseline = await writeDataset(stack.dataDir, 'v2-base', { rows: 1200, seed: 21 });
    const shifted = await writeDataset(stack.dataDir, 'v2-shifted', { rows: 1200, seed: 22, shift: 1.5 });
    await registerModel(stack.api(), model, baseline, policy);

    let trafficOn = true;
    const traffic = sendTraffic(stack.api('monitor'), model, readFileSync(shifted, 'utf8'), () => !trafficOn);
    const first = await trigger(stack.api('monitor'), model, { reason: 'manual' });
    const v1 = await waitForRun(stack.api(), model, first.runId, (r) => r.outcome !== null, {
      timeoutMs: 90_000,
    });
    expect(v1.outcome, v1.outcomeReason ?? '').toBe('promoted');
    const infra = v1.reports.infraValidation;
    expect(infra).toMatchObject({ ok: true, server: server.url, smoke: { requests: 20 } });
    expect(infra.smoke.maxAbsDifference).toBeLessThanOrEqual(1e-9);

    // The retrain canaries through the server: both versions answer there, and it is promoted.
    const second = await trigger(stack.api('monitor'), model, {
      reason: 'drift',
      details: { dataUri: shifted },
    });
    const v2run = await waitForRun(stack.api(), model, second.runId, (r) => r.outcome !== null, {
      timeoutMs: 90_000,
    });
    trafficOn = false;
    const sent = await traffic;
    expect(v2run.outcome, v2run.outcomeReason ?? '').toBe('promoted');
    expect(v2run.reports.infraValidation.ok).toBe(true);
    expect(v2run.reports.canary.length).toBeGreaterThan(0);
    expect(sent.byVersion['2']).toBeGreaterThan(0);
    // The run over, the server keeps only the champion: v1 (the rollback target during the bake) is gone.
    // The unload follows the run's outcome in the same activity, so it can land a moment after the API shows it.
    const v2server = createV2Server({ url: server.url, repository: server.repository });
    await expect.poll(() => v2server.loaded(model), { timeout: 10_000, interval: 100 }).toEqual([2]);
    expect((await fetch(`${server.url}/v2/models/${model}--v1/ready`)).ok).toBe(false);
    expect((await fetch(`${server.url}/v2/models/${model}--v2/ready`)).ok).toBe(true);
    console.info(
      `infra-validation: v1 load ${infra.loadMs.toFixed(0)} ms, smoke p50 ${infra.smoke.latencyMsP50.toFixed(2)} ms (max ${infra.smoke.latencyMsMax.toFixed(2)}); ` +
        `v2 load ${v2run.reports.infraValidation.loadMs.toFixed(0)} ms, smoke p50 ${v2run.reports.infraValidation.smoke.latencyMsP50.toFixed(2)} ms`,
    );

    // The gateway's answers come from the server: with the server gone, the version fails to answer.
    const answered = await predict(model, { x1: 0.1, x2: 0.2, x3: -0.3, x4: 1 });
    expect(answered.status).toBe(200);
    await server.stop();
    const down = await predict(model, { x1: 0.1, x2: 0.2, x3: -0.3, x4: 1 });
    expect(down.status).toBe(502);
    expect(JSON.stringify(await down.json())).toMatch(/model server .* unreachable/);

    // A candidate the server cannot take ends the run before any traffic; the champion stays.
    const third = await trigger(stack.api('monitor'), model, { reason: 'manual' });
    const v3run = await waitForRun(stack.api(), model, third.runId, (r) => r.outcome !== null, {
      timeoutMs: 90_000,
    });
    expect(v3run.outcome).toBe('failed');
    expect(v3run.outcomeReason).toMatch(/^infra-validation: v3 did not load: model server .* unreachable/);
    expect(v3run.reports.canary).toBeUndefined();
    const described = await stack.app.request(`/v1/models/${model}`, {
      headers: { authorization: `Bearer ${stack.tokens.vera}` },
    });
    expect(((await described.json()) as { champion: number }).champion).toBe(2);
    await server.restart();
    expect((await predict(model, { x1: 0.1, x2: 0.2, x3: -0.3, x4: 1 })).status).toBe(200);
  }, 300_000);
});
