import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessApi } from '../../api/client';
import {
  bootstrapChampion,
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  sendTraffic,
  trigger,
  waitForModelToLetGo,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Exposition, parseExposition, select, sum, value } from '../helpers/exposition';
import { type Stack, startStack } from '../helpers/stack';

describe('Prometheus sees the CT loop: triggers, runs, freshness, canary, gateway and rollbacks', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function scrape(): Promise<Exposition> {
    const res = await stack.app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await res.text());
  }

  it('serves /metrics without a token, while /v1 still asks for one', async () => {
    const anonymous = inProcessApi(stack.app);
    expect((await anonymous('GET', '/v1/models')).status).toBe(401);
    expect((await anonymous('GET', '/no/such/page-7f3a')).status).toBe(404);
    const first = await scrape();
    // Requests are labelled by route pattern, never by the raw path a caller made up.
    const routes = select(first, 'ctloop_http_request_duration_seconds_count').map((s) => s.labels.route);
    expect(routes).toEqual(expect.arrayContaining(['/v1/models', '/*']));
    expect(routes.some((r) => r?.includes('7f3a'))).toBe(false);
    expect(first.types.get('ctloop_triggers_total')).toBe('counter');
    expect(first.types.get('ctloop_run_duration_seconds')).toBe('histogram');
    expect(first.types.get('ctloop_model_freshness_seconds')).toBe('gauge');
    expect(first.types.get('ctloop_gateway_latency_seconds')).toBe('histogram');
    // prom-client's process metrics come along.
    expect(select(first, 'process_resident_memory_bytes')[0]!.value).toBeGreaterThan(0);
  });

  it('counts a model’s triggers, runs, traffic and rollback as they happen', async () => {
    const api = stack.api();
    const model = 'churn-metrics';
    const baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 31 });
    const drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 32, shift: 1.5 });
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));

    // Version 1 serves alone; a third of its answers fail on purpose, then it heals.
    const olga = stack.api('olga');
    expect((await olga('PUT', `/v1/models/${model}/versions/1/fault`, { errorRate: 0.3 })).status).toBe(200);
    const early = await sendTraffic(api, model, await readFile(baseline, 'utf8'), () => false, {
      maxRequests: 60,
    });
    expect((await olga('PUT', `/v1/models/${model}/versions/1/fault`, { errorRate: 0 })).status).toBe(200);
    expect(early.failed).toBeGreaterThan(0);

    const afterBootstrap = await scrape();
    const m = { model };
    expect(value(afterBootstrap, 'ctloop_triggers_total', { ...m, reason: 'manual', fate: 'started' })).toBe(
      1,
    );
    expect(value(afterBootstrap, 'ctloop_runs_total', { ...m, outcome: 'promoted' })).toBe(1);
    expect(value(afterBootstrap, 'ctloop_runs_total', { ...m, outcome: 'failed' })).toBe(0);
    expect(sum(select(afterBootstrap, 'ctloop_runs_in_progress', m))).toBe(0);
    const bootstrapRun = { ...m, outcome: 'promoted' };
    expect(value(afterBootstrap, 'ctloop_run_duration_seconds_count', bootstrapRun)).toBe(1);
    const bootstrapSeconds = value(afterBootstrap, 'ctloop_run_duration_seconds_sum', bootstrapRun);
    expect(bootstrapSeconds).toBeGreaterThan(0);
    expect(bootstrapSeconds).toBeLessThan(180);
    expect(value(afterBootstrap, 'ctloop_run_duration_seconds_bucket', { ...bootstrapRun, le: '+Inf' })).toBe(
      1,
    );
    expect(value(afterBootstrap, 'ctloop_canary_traffic_share', m)).toBe(0);
    const v1 = { ...m, version: '1', role: 'champion' };
    expect(value(afterBootstrap, 'ctloop_gateway_requests_total', v1)).toBe(60);
    expect(value(afterBootstrap, 'ctloop_gateway_errors_total', v1)).toBe(early.failed);
    expect(value(afterBootstrap, 'ctloop_gateway_latency_seconds_count', v1)).toBe(60);
    expect(value(afterBootstrap, 'ctloop_gateway_latency_seconds_sum', v1)).toBeGreaterThan(0);
    const predictRoute = { method: 'POST', route: '/v1/models/:model/predict', status: '200' };
    expect(value(afterBootstrap, 'ctloop_http_request_duration_seconds_count', predictRoute)).toBe(
      60 - early.failed,
    );
    for (const reason of ['canary_failed', 'canary_inconclusive', 'operator', 'bake_regression', 'other']) {
      expect(value(afterBootstrap, 'ctloop_rollbacks_total', { ...m, reason })).toBe(0);
    }

    // The champion ages by the clock between two scrapes.
    const freshness1 = value(afterBootstrap, 'ctloop_model_freshness_seconds', m);
    expect(freshness1).toBeGreaterThan(0);
    const pause = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const freshness2 = value(await scrape(), 'ctloop_model_freshness_seconds', m);
    expect(freshness2 - freshness1).toBeGreaterThanOrEqual(1.4);
    expect(freshness2 - freshness1).toBeLessThan((Date.now() - pause) / 1000 + 1);

    // A drift alert retrains; the run waits for approval, then canaries and bakes for a minute.
    expect(
      (
        await api('PUT', `/v1/models/${model}`, {
          // No cooldown after the rollback below, so that the performance alarm after it retrains at once.
          policy: fastPolicy({ bake: { seconds: 120 }, triggers: { rollbackCooldownSeconds: 0 } }),
        })
      ).status,
    ).toBe(200);
    const triggeredAt = Date.now();
    const { runId, fate } = await trigger(stack.api('monitor'), model, {
      reason: 'drift',
      details: { dataUri: drifted },
    });
    expect(fate).toBe('started');
    await waitForRun(api, model, runId, inStage('approve'));
    const waiting = await scrape();
    expect(value(waiting, 'ctloop_triggers_total', { ...m, reason: 'drift', fate: 'started' })).toBe(1);
    expect(value(waiting, 'ctloop_runs_in_progress', { ...m, stage: 'approve' })).toBe(1);
    expect(value(waiting, 'ctloop_runs_in_progress', { ...m, stage: 'canary' })).toBe(0);
    expect((await decide(stack.api('alice'), model, runId, 'approve')).status).toBe(200);

    // While traffic flows, scrapes see the candidate's share of it rise.
    let stop = false;
    const traffic = sendTraffic(api, model, await readFile(drifted, 'utf8'), () => stop);
    const shares = new Set<number>();
    const watching = (async () => {
      while (!stop) {
        shares.add(value(await scrape(), 'ctloop_canary_traffic_share', m));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await waitForRun(api, model, runId, inStage('bake'));
    stop = true;
    const sent = await traffic;
    await watching;
    expect([...shares].filter((s) => s > 0)).toEqual(expect.arrayContaining([0.1]));
    expect([...shares].every((s) => [0, 0.1, 0.5].includes(s))).toBe(true);

    // Promoted and baking: all traffic on version 2, which was trained moments ago.
    const baking = await scrape();
    expect(value(baking, 'ctloop_canary_traffic_share', m)).toBe(0);
    expect(value(baking, 'ctloop_runs_in_progress', { ...m, stage: 'bake' })).toBe(1);
    // Version 2 was trained after the trigger, so it is younger than the time since.
    const freshnessV2 = value(baking, 'ctloop_model_freshness_seconds', m);
    expect(freshnessV2).toBeGreaterThan(0);
    expect(freshnessV2).toBeLessThan((Date.now() - triggeredAt) / 1000);
    const served = (version: string) =>
      sum(select(baking, 'ctloop_gateway_requests_total', { ...m, version }));
    // Every answered request of the canary traffic is counted under the version that answered it.
    expect(served('2')).toBe(sent.byVersion['2']);
    expect(served('1') - 60).toBe(sent.byVersion['1']);
    expect(
      value(baking, 'ctloop_gateway_latency_seconds_count', { ...m, version: '2', role: 'candidate' }),
    ).toBeGreaterThan(0);

    // An operator rolls back during the bake.
    expect(
      (await olga('POST', `/v1/models/${model}/rollback`, { reason: 'support complaints' })).status,
    ).toBe(202);
    const ended = await waitForRun(api, model, runId, hasEnded);
    expect(ended.outcome).toBe('rolled_back');
    // Otherwise the alarm below could be held for a follow-up of this run rather than start one.
    await waitForModelToLetGo(api, model, runId);

    const final = await scrape();
    expect(value(final, 'ctloop_runs_total', { ...m, outcome: 'promoted' })).toBe(1);
    expect(value(final, 'ctloop_runs_total', { ...m, outcome: 'rolled_back' })).toBe(1);
    expect(value(final, 'ctloop_rollbacks_total', { ...m, reason: 'operator' })).toBe(1);
    expect(value(final, 'ctloop_rollbacks_total', { ...m, reason: 'canary_failed' })).toBe(0);
    expect(sum(select(final, 'ctloop_runs_in_progress', m))).toBe(0);
    expect(sum(select(final, 'ctloop_run_duration_seconds_count', m))).toBe(2);
    expect(value(final, 'ctloop_run_duration_seconds_count', { ...m, outcome: 'rolled_back' })).toBe(1);
    // The earlier run's observation is not repeated by later scrapes.
    expect(value(final, 'ctloop_run_duration_seconds_sum', bootstrapRun)).toBe(bootstrapSeconds);
    // Version 1 is champion again: freshness is its age once more.
    expect(value(final, 'ctloop_model_freshness_seconds', m)).toBeGreaterThan(freshness2);
    expect(value(final, 'ctloop_triggers_total', { ...m, reason: 'drift', fate: 'started' })).toBe(1);

    // A performance alarm retrains again; this candidate fails 40 % of its answers and the canary rolls it back.
    const second = await trigger(stack.api('monitor'), model, {
      reason: 'performance',
      details: { dataUri: drifted },
    });
    expect(second.fate).toBe('started');
    const waitingAgain = await waitForRun(api, model, second.runId, inStage('approve'));
    const faulty = waitingAgain.live.candidateVersion;
    expect(faulty).toBe(3);
    expect((await olga('PUT', `/v1/models/${model}/versions/3/fault`, { errorRate: 0.4 })).status).toBe(200);
    expect((await decide(stack.api('alice'), model, second.runId, 'approve')).status).toBe(200);
    stop = false;
    const faultyTraffic = sendTraffic(api, model, await readFile(drifted, 'utf8'), () => stop);
    const rolledBack = await waitForRun(api, model, second.runId, hasEnded);
    stop = true;
    const faultySent = await faultyTraffic;
    expect(rolledBack.outcome).toBe('rolled_back');
    expect(rolledBack.outcomeReason).toMatch(/^canary fail/);

    const last = await scrape();
    expect(value(last, 'ctloop_rollbacks_total', { ...m, reason: 'canary_failed' })).toBe(1);
    expect(value(last, 'ctloop_rollbacks_total', { ...m, reason: 'operator' })).toBe(1);
    expect(value(last, 'ctloop_runs_total', { ...m, outcome: 'rolled_back' })).toBe(2);
    expect(value(last, 'ctloop_triggers_total', { ...m, reason: 'performance', fate: 'started' })).toBe(1);
    const v3 = { ...m, version: '3', role: 'candidate' };
    expect(value(last, 'ctloop_gateway_errors_total', v3)).toBe(faultySent.failed);
    expect(value(last, 'ctloop_gateway_requests_total', v3)).toBe(
      faultySent.byVersion['3']! + faultySent.failed,
    );
    expect(value(last, 'ctloop_canary_traffic_share', m)).toBe(0);
  });
});
