import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { inProcessApi } from '../../api/client';
import {
  bootstrapChampion,
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  sendTraffic,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { runWorkflowId } from '../../workflows/messages';
import { recordRunHistory } from '../helpers/histories';
import { type Stack, startStack } from '../helpers/stack';

describe('a bad model does not stay in production', () => {
  let stack: Stack;
  let api: ReturnType<typeof inProcessApi>;
  let baseline: string;
  let drifted: string;
  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 21 });
    drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 1500, seed: 22, shift: 1.5 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function servedVersions(model: string, requests: number) {
    const seen = new Set<number>();
    for (let i = 0; i < requests; i++) {
      const res = await api('POST', `/v1/models/${model}/predict`, {
        features: { x1: 0.1 * i, x2: 0, x3: 1, x4: -1 },
        key: `probe-${i}`,
      });
      expect(res.status).toBe(200);
      seen.add(res.body.version);
    }
    return [...seen];
  }

  it('rolls back automatically when the candidate fails requests during the canary', async () => {
    const model = 'rollback-canary';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });
    const waiting = await waitForRun(api, model, runId, inStage('approve'));
    const candidate = waiting.live.candidateVersion;
    expect(candidate).toBe(2);
    // The candidate will fail 40 % of its requests once it serves traffic.
    const fault = await stack.api('olga')('PUT', `/v1/models/${model}/versions/${candidate}/fault`, {
      errorRate: 0.4,
    });
    expect(fault.status).toBe(200);
    expect((await decide(stack.api('alice'), model, runId, 'approve')).status).toBe(200);

    let done = false;
    const traffic = sendTraffic(api, model, await readFile(drifted, 'utf8'), () => done);
    const run = await waitForRun(api, model, runId, hasEnded);
    done = true;
    const sent = await traffic;

    expect(run.outcome).toBe('rolled_back');
    await recordRunHistory(stack, 'run-rolled-back-in-canary', runWorkflowId(model, runId));
    expect(run.outcomeReason).toMatch(/canary fail at 10 %/);
    expect(run.reports.canary).toEqual([expect.objectContaining({ weight: 10, verdict: 'fail' })]);
    expect(sent.failed).toBeGreaterThan(0);
    // Alias and routing are back on the champion alone.
    expect((await api('GET', `/v1/models/${model}`)).body.champion).toBe(1);
    expect(await servedVersions(model, 40)).toEqual([1]);
    expect(run.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'rollback', actor: 'ctloop' })]),
    );
  });

  it('restores the previous champion when an operator rolls back during bake', async () => {
    const model = 'rollback-bake';
    const policy = fastPolicy({ bake: { seconds: 120 } });
    await bootstrapChampion(api, model, baseline, policy, stack.api('alice'));
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, inStage('approve'));
    expect((await decide(stack.api('alice'), model, runId, 'approve')).status).toBe(200);

    let done = false;
    const traffic = sendTraffic(api, model, await readFile(drifted, 'utf8'), () => done);
    await waitForRun(api, model, runId, inStage('bake'));
    done = true;
    await traffic;
    expect((await api('GET', `/v1/models/${model}`)).body.champion).toBe(2);
    expect(await servedVersions(model, 20)).toEqual([2]);

    const res = await stack.api('olga')('POST', `/v1/models/${model}/rollback`, {
      reason: 'complaints from the support team',
    });
    expect(res.status).toBe(202);
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('rolled_back');
    await recordRunHistory(stack, 'run-rolled-back-in-bake', runWorkflowId(model, runId));
    expect(run.outcomeReason).toMatch(/complaints from the support team/);
    expect((await api('GET', `/v1/models/${model}`)).body.champion).toBe(1);
    expect(await servedVersions(model, 20)).toEqual([1]);
    const history = (await api('GET', `/v1/models/${model}/versions/2`)).body.lineage.aliasChanges;
    expect(
      history.map((h: { fromVersion: number; toVersion: number }) => [h.fromVersion, h.toVersion]),
    ).toEqual([
      [1, 2],
      [2, 1],
    ]);
    expect(run.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'rollback', actor: 'olga' })]),
    );
    // Nothing left to roll back.
    const again = await stack.api('olga')('POST', `/v1/models/${model}/rollback`, { reason: 'again' });
    expect(again.status).toBe(409);
  });
});
