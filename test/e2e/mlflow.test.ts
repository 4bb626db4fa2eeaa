/**
 * The MLflow Model Registry adapter against a real `mlflow server` (SQLite,
 * artifact proxy): every candidate becomes an MLflow model version with its
 * artifact, parameters, metrics and tags; the alias `champion` follows
 * ctloop's promotions and its rollback; registering again changes nothing.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../domain/csv';
import { fitLogReg } from '../../domain/logistic-regression';
import { createMlflowRegistry } from '../../integrations/mlflow';
import { pollMlflowOnce } from '../../integrations/mlflow-poller';
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

const WEBHOOK_SECRET = 'ctloop-test-webhook-secret';

describe('versions and the champion alias in MLflow', () => {
  let mlflow: MlflowServerProcess;
  let stack: Stack;
  let server: ReturnType<typeof serve>;
  let webhookId: string;
  beforeAll(async () => {
    mlflow = await startMlflowServer();
    stack = await startStack({
      mlflow: createMlflowRegistry({ uri: mlflow.url }),
      mlflowWebhookSecret: WEBHOOK_SECRET,
    });
    // MLflow announces every new version to ctloop over HTTP, signed with the shared secret, from the
    // start (ctloop's own versions are announced too, and ignored).
    server = serve({ fetch: stack.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    const hook = await fetch(`${mlflow.url}/api/2.0/mlflow/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'ctloop',
        url: `http://127.0.0.1:${port}/integrations/mlflow/webhook`,
        events: [{ entity: 'MODEL_VERSION', action: 'CREATED' }],
        secret: WEBHOOK_SECRET,
      }),
    });
    expect(hook.status, await hook.clone().text()).toBe(200);
    webhookId = ((await hook.json()) as { webhook: { webhook_id: string } }).webhook.webhook_id;
  }, 300_000);
  afterAll(async () => {
    server?.close();
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

  it('takes a version another training job registered, announced by MLflow’s webhook, to promotion without training it', async () => {
    const model = 'mlflow-import';
    const baseline = await writeDataset(stack.dataDir, 'import-base', { rows: 1200, seed: 41 });
    const shifted = await writeDataset(stack.dataDir, 'import-shifted', { rows: 1200, seed: 42, shift: 1.5 });
    await registerModel(
      stack.api(),
      model,
      baseline,
      fastPolicy({ approval: { required: false }, bake: { seconds: 2, pollSeconds: 1 } }),
    );
    let trafficOn = true;
    const traffic = sendTraffic(stack.api('monitor'), model, readFileSync(shifted, 'utf8'), () => !trafficOn);
    const first = await trigger(stack.api('monitor'), model, { reason: 'manual' });
    expect(
      (await waitForRun(stack.api(), model, first.runId, (r) => r.outcome !== null, { timeoutMs: 90_000 }))
        .outcome,
    ).toBe('promoted');

    // The team's own training job: fits on the new data, logs ctloop's artifact format, registers a version.
    await stack.app.request(`/v1/models/${model}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${stack.tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ dataUri: shifted }),
    });
    const table = parseCsv(readFileSync(shifted, 'utf8'));
    const features = table.columns.filter((c) => c !== 'label');
    const fitted = fitLogReg(
      table.rows.map((r) => features.map((f) => Number(r[table.columns.indexOf(f)]))),
      table.rows.map((r) => Number(r[table.columns.indexOf('label')])),
      { epochs: 150, learningRate: 0.5, l2: 0.001, seed: 3 },
      features,
    );
    const post = async (route: string, body: unknown) => {
      const res = await fetch(`${mlflow.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, route).toBe(200);
      // biome-ignore lint/suspicious/noExplicitAny: MLflow's JSON, read field by field
      return (await res.json()) as Record<string, any>;
    };
    const experiment = (await post('/api/2.0/mlflow/experiments/create', { name: 'team-training' }))
      .experiment_id;
    const run = (
      await post('/api/2.0/mlflow/runs/create', { experiment_id: experiment, start_time: Date.now() })
    ).run.info;
    const location = run.artifact_uri.replace(/^mlflow-artifacts:\/?/, '').replace(/^\/+/, '');
    const artifact = JSON.stringify(fitted);
    await fetch(`${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/${location}/model/model.json`, {
      method: 'PUT',
      body: artifact,
    });
    const created = await post('/api/2.0/mlflow/model-versions/create', {
      name: model,
      source: `runs:/${run.run_id}/model`,
      run_id: run.run_id,
      tags: [{ key: 'team', value: 'fraud' }],
    });
    const mlflowVersion = created.model_version.version;

    // The webhook's trigger starts a run that evaluates that version, canaries it and promotes it.
    const runId = await (async () => {
      for (let i = 0; i < 200; i++) {
        const runs = (await (
          await stack.app.request(`/v1/models/${model}/runs`, {
            headers: { authorization: `Bearer ${stack.tokens.vera}` },
          })
        ).json()) as { runs: { id: string; causes: { reason: string }[] }[] };
        const found = runs.runs.find((r) => r.causes.some((c) => c.reason === 'registry'));
        if (found) return found.id;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `no run for the registered version; MLflow said:\n${mlflow
          .output()
          .split('\n')
          .filter((l) => !l.includes('HTTP/1.1'))
          .join('\n')
          .slice(-3000)}`,
      );
    })();
    const imported = await waitForRun(stack.api(), model, runId, (r) => r.outcome !== null, {
      timeoutMs: 90_000,
    });
    trafficOn = false;
    await traffic;
    expect(imported.outcome, imported.outcomeReason ?? '').toBe('promoted');
    expect(imported.causes).toEqual([
      expect.objectContaining({ reason: 'registry', requestedBy: 'mlflow', details: { mlflowVersion } }),
    ]);
    expect(imported.reports.import).toMatchObject({
      ok: true,
      source: { mlflowVersion, mlflowRunId: run.run_id },
    });
    expect(imported.reports.trainingAttempts).toBeUndefined(); // not trained here
    expect(imported.reports.canary.length).toBeGreaterThan(0);
    expect((await stack.deps.artifacts.get(`artifact://${model}/${runId}/model.json`)).toString('utf8')).toBe(
      artifact,
    );
    expect(await champion(model)).toMatchObject({ version: mlflowVersion });
    const mv = (await get(`/api/2.0/mlflow/model-versions/get?name=${model}&version=${mlflowVersion}`))
      .model_version;
    expect(mv.tags).toEqual(
      expect.arrayContaining([
        { key: 'ctloop.version', value: '2' },
        { key: 'ctloop.run_id', value: runId },
        { key: 'team', value: 'fraud' },
      ]),
    );
    // Only the team's version and ctloop's first: nothing registered twice.
    expect(
      (await get(`/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(`name='${model}'`)}`))
        .model_versions,
    ).toHaveLength(2);
  }, 300_000);

  it('refuses webhook deliveries that are not signed with the secret, or are stale', async () => {
    const body = JSON.stringify({
      entity: 'model_version',
      action: 'created',
      data: { name: 'mlflow-import', version: '9' },
    });
    const deliver = (signature: string, timestamp: string) =>
      stack.app.request('/integrations/mlflow/webhook', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-mlflow-delivery-id': 'd1',
          'x-mlflow-timestamp': timestamp,
          'x-mlflow-signature': signature,
        },
        body,
      });
    const sign = (timestamp: string, secret = WEBHOOK_SECRET) =>
      `v1,${createHmac('sha256', secret).update(`d1.${timestamp}.${body}`).digest('base64')}`;
    const now = String(Math.floor(Date.now() / 1000));
    expect((await deliver(sign(now, 'another-secret-entirely'), now)).status).toBe(401);
    expect((await deliver('', now)).status).toBe(401);
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    const stale = await deliver(sign(old), old);
    expect(stale.status).toBe(401);
    expect(JSON.stringify(await stale.json())).toContain('stale_delivery');
  });

  it('without the webhook, a poll offers the newest version registered elsewhere once, and one ctloop cannot serve is refused for good', async () => {
    const model = 'mlflow-polled';
    const removed = await fetch(`${mlflow.url}/api/2.0/mlflow/webhooks/${webhookId}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    // The server keeps each event's webhook list for a second (MLFLOW_WEBHOOK_CACHE_TTL in scripts/lib/mlflow-server.ts).
    await new Promise((r) => setTimeout(r, 1500));
    const data = await writeDataset(stack.dataDir, 'polled', { rows: 1200, seed: 51 });
    await registerModel(
      stack.api(),
      model,
      data,
      fastPolicy({ approval: { required: true, timeoutSeconds: 600 } }),
    );
    const registry = createMlflowRegistry({ uri: mlflow.url });
    const poll = () =>
      pollMlflowOnce({ db: stack.deps.db, mlflow: registry, submitTrigger: stack.deps.submitTrigger! });
    expect(await poll()).toEqual([]); // nothing in MLflow yet

    // Two versions registered by another job, the newer one not a ctloop artifact.
    const register = async (body: string) => {
      const post = async (route: string, json: unknown) =>
        (await (
          await fetch(`${mlflow.url}${route}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(json),
          })
        ).json()) as {
          run: { info: { run_id: string; artifact_uri: string } };
          model_version: { version: string };
        };
      await post('/api/2.0/mlflow/registered-models/create', { name: model });
      const { run } = await post('/api/2.0/mlflow/runs/create', {
        experiment_id: '0',
        start_time: Date.now(),
      });
      const location = run.info.artifact_uri.replace(/^mlflow-artifacts:\/?/, '').replace(/^\/+/, '');
      await fetch(`${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/${location}/model/model.json`, {
        method: 'PUT',
        body,
      });
      return (
        await post('/api/2.0/mlflow/model-versions/create', {
          name: model,
          source: `runs:/${run.info.run_id}/model`,
          run_id: run.info.run_id,
        })
      ).model_version.version;
    };
    await register('{"kind": "logreg"}');
    const newest = await register('{"kind": "tree", "nodes": []}');
    const offered = await poll();
    expect(offered).toEqual([{ model, mlflowVersion: newest, fate: 'started' }]); // the newest only
    expect(await poll()).toEqual([expect.objectContaining({ mlflowVersion: newest, fate: 'deduplicated' })]);
    const runs = (await (
      await stack.app.request(`/v1/models/${model}/runs`, {
        headers: { authorization: `Bearer ${stack.tokens.vera}` },
      })
    ).json()) as { runs: { id: string }[] };
    const run = await waitForRun(stack.api(), model, runs.runs[0]!.id, (r) => r.outcome !== null);
    expect(run.outcome).toBe('rejected_data');
    expect(run.outcomeReason).toBe(
      `MLflow version ${newest} of ${model} holds no model ctloop can serve (model.json must be a logreg or mlp artifact)`,
    );
    // Refused for good: the poll does not offer it, nor the older one, again.
    expect(await poll()).toEqual([]);
  }, 120_000);
});
