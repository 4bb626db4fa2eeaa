/**
 * The MLflow Model Registry adapter against a real `mlflow server` (SQLite,
 * artifact proxy): every candidate becomes an MLflow model version with its
 * artifact, parameters, metrics and tags; the alias `champion` follows
 * ctloop's promotions and its rollback; registering again changes nothing.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMlflowRegistry } from '../../integrations/mlflow';
import { type MlflowServerProcess, startMlflowServer } from '../../scripts/lib/mlflow-server';
import {
  fastPolicy,
  registerModel,
  sendTraffic,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

describe('versions and the champion alias in MLflow', () => {
  let mlflow: MlflowServerProcess;
  let stack: Stack;
  beforeAll(async () => {
    mlflow = await startMlflowServer();
    stack = await startStack({ mlflow: createMlflowRegistry({ uri: mlflow.url }) });
  }, 300_000);
  afterAll(async () => {
    await stack?.close();
    await mlflow?.stop();
  });

  const get = async (route: string) => {
    const res = await fetch(`${mlflow.url}${route}`);
    expect(res.status, route).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: MLflow's JSON, read field by field below
    return (await res.json()) as Record<string, any>;
  };
  const champion = async (model: string) =>
    (await get(`/api/2.0/mlflow/registered-models/alias?name=${model}&alias=champion`)).model_version;

  it('registers every candidate and moves alias champion with promotions and a rollback', async () => {
    const model = 'mlflow-churn';
    const baseline = await writeDataset(stack.dataDir, 'mlflow-base', { rows: 1200, seed: 31 });
    const shifted = await writeDataset(stack.dataDir, 'mlflow-shifted', { rows: 1200, seed: 32, shift: 1.5 });
    await registerModel(
      stack.api(),
      model,
      baseline,
      fastPolicy({ approval: { required: false }, bake: { seconds: 60, pollSeconds: 1 } }),
    );
    let trafficOn = true;
    const traffic = sendTraffic(stack.api('monitor'), model, readFileSync(shifted, 'utf8'), () => !trafficOn);

    const first = await trigger(stack.api('monitor'), model, { reason: 'manual' });
    // With a 60 s bake, an ended run is the rollback's, not the bake's; the first version has no bake.
    const v1 = await waitForRun(stack.api(), model, first.runId, (r) => r.outcome !== null, {
      timeoutMs: 90_000,
    });
    expect(v1.outcome).toBe('promoted');
    expect(v1.reports.mlflow).toMatchObject({ uri: mlflow.url, name: model, version: '1' });

    const mv1 = (await get(`/api/2.0/mlflow/model-versions/get?name=${model}&version=1`)).model_version;
    const tags = Object.fromEntries(mv1.tags.map((t: { key: string; value: string }) => [t.key, t.value]));
    expect(tags).toMatchObject({
      'ctloop.model': model,
      'ctloop.version': '1',
      'ctloop.run_id': first.runId,
      'ctloop.causes': 'manual by monitor',
      'ctloop.evaluation_decision': 'pass',
    });
    expect(tags['ctloop.data_hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(tags['ctloop.evaluation_hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(mv1.source).toBe(`runs:/${mv1.run_id}/model`);
    const run = (await get(`/api/2.0/mlflow/runs/get?run_id=${mv1.run_id}`)).run;
    expect(run.data.params).toEqual(expect.arrayContaining([{ key: 'trainer', value: 'builtin-logreg' }]));
    expect(run.data.metrics.map((m: { key: string }) => m.key)).toContain('train.loss');
    // The artifact in MLflow is ctloop's artifact.
    const location = run.info.artifact_uri.replace(/^mlflow-artifacts:\/?/, '').replace(/^\/+/, '');
    const stored = await fetch(
      `${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/${location}/model/model.json`,
    );
    expect(await stored.text()).toBe(
      (await stack.deps.artifacts.get(`artifact://${model}/${first.runId}/model.json`)).toString('utf8'),
    );
    expect(await champion(model)).toMatchObject({ version: '1' });
    const lineage = await stack.app.request(`/v1/models/${model}/versions/1/lineage`, {
      headers: { authorization: `Bearer ${stack.tokens.vera}` },
    });
    expect(((await lineage.json()) as { mlflow: unknown }).mlflow).toEqual({
      uri: mlflow.url,
      name: model,
      version: '1',
      runId: mv1.run_id,
    });

    // A retrain through its canary and into its bake: the alias follows the promotion…
    const second = await trigger(stack.api('monitor'), model, {
      reason: 'drift',
      details: { dataUri: shifted },
    });
    await waitForRun(stack.api(), model, second.runId, (r) => r.stage === 'bake', { timeoutMs: 90_000 });
    expect(await champion(model)).toMatchObject({ version: '2' });
    // …and back with an operator's rollback during the bake.
    const rolledBack = await stack.app.request(`/v1/models/${model}/rollback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.tokens.olga}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'latency complaints' }),
    });
    expect(rolledBack.status).toBe(202);
    const v2 = await waitForRun(stack.api(), model, second.runId, (r) => r.outcome !== null, {
      timeoutMs: 60_000,
    });
    trafficOn = false;
    await traffic;
    expect(v2.outcome).toBe('rolled_back');
    expect(await champion(model)).toMatchObject({ version: '1' });
    const versions = (
      await get(`/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(`name='${model}'`)}`)
    ).model_versions;
    console.info(
      `MLflow after promote + rollback: versions ${versions.map((v: { version: string }) => v.version).join(', ')}; champion → ${(await champion(model)).version}`,
    );
    expect(versions).toHaveLength(2);

    // Registering again (a retried activity, a restarted worker) finds what is there.
    const registry = createMlflowRegistry({ uri: mlflow.url });
    const again = await registry.registerVersion({
      model,
      version: 1,
      runId: first.runId,
      artifact: '{}',
      params: {},
      metrics: {},
      tags: {},
    });
    expect(again).toMatchObject({ name: model, version: '1', runId: mv1.run_id });
    expect(
      (await get(`/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(`name='${model}'`)}`))
        .model_versions,
    ).toHaveLength(2);
  }, 300_000);
});
