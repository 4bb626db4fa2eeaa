import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { inProcessApi } from '../../api/client';
import {
  bootstrapChampion,
  fastPolicy,
  registerModel,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

describe('drift reports: a monitor or a batch of current data can start a retrain', () => {
  let stack: Stack;
  let api: ReturnType<typeof inProcessApi>;
  let baseline: string;
  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 81 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function finished(model: string, reportId: string) {
    for (let i = 0; i < 300; i++) {
      const res = await api('GET', `/v1/models/${model}/drift-reports/${reportId}`);
      if (res.body.status !== 'pending') return res.body;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`drift report ${reportId} still pending`);
  }

  it('compares a drifted batch with the champion training data and starts a run caused by the report', async () => {
    const model = 'drift-batch';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    const batch = await writeDataset(stack.dataDir, 'shifted', { rows: 1500, seed: 82, shift: 1.5 });

    const accepted = await api('POST', `/v1/models/${model}/drift-reports`, { dataUri: batch });
    expect(accepted.status).toBe(202);
    const report = await finished(model, accepted.body.reportId);

    expect(report).toMatchObject({ status: 'done', drifted: true, source: 'ctloop', referenceUri: baseline });
    expect(report.report.verdict.share).toBe(1);
    for (const f of report.report.features) {
      expect(f.psi).toBeGreaterThan(0.2);
      expect(f.adjustedPValue).toBeLessThan(0.05);
    }
    expect(report.runId).toBeTruthy();
    // The run's record appears when its workflow begins, a moment after the trigger.
    const run = await waitForRun(api, model, report.runId, () => true);
    expect(run.causes).toEqual([
      expect.objectContaining({
        reason: 'drift',
        details: expect.objectContaining({ driftReportId: report.id, dataUri: batch }),
      }),
    ]);
  });

  it('starts nothing for a batch from the same distribution', async () => {
    const model = 'drift-none';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    const batch = await writeDataset(stack.dataDir, 'same', { rows: 1500, seed: 83 });
    const accepted = await api('POST', `/v1/models/${model}/drift-reports`, { dataUri: batch });
    const report = await finished(model, accepted.body.reportId);

    expect(report).toMatchObject({ status: 'done', drifted: false, runId: null });
    expect(report.report.verdict.share).toBeLessThan(0.3);
    expect((await api('GET', `/v1/models/${model}/runs`)).body.runs).toHaveLength(1);
  });

  it("judges a monitor's statistics with the model's policy", async () => {
    const model = 'drift-monitor';
    await registerModel(api, model, baseline, fastPolicy());
    const over = await api('POST', `/v1/models/${model}/drift-reports`, {
      features: [
        { name: 'x1', psi: 0.35 },
        { name: 'x2', pValue: 0.001 },
        { name: 'x3', psi: 0.01, pValue: 0.6 },
      ],
      requestedBy: 'evidently-job',
    });
    expect(over.status).toBe(201);
    expect(over.body).toMatchObject({ drifted: true, trigger: { fate: 'started' } });

    const under = await api('POST', `/v1/models/${model}/drift-reports`, {
      features: [
        { name: 'x1', psi: 0.05 },
        { name: 'x2', pValue: 0.2 },
      ],
    });
    expect(under.status).toBe(201);
    expect(under.body).toMatchObject({ drifted: false, trigger: null });

    const bad = await api('POST', `/v1/models/${model}/drift-reports`, { features: [{ name: 'x1' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/neither psi nor pValue/);
  });

  it('fails a batch report clearly when there is no champion to compare with', async () => {
    const model = 'drift-no-champion';
    await registerModel(api, model, baseline, fastPolicy());
    const accepted = await api('POST', `/v1/models/${model}/drift-reports`, { dataUri: baseline });
    const report = await finished(model, accepted.body.reportId);
    expect(report).toMatchObject({ status: 'failed', drifted: null, runId: null });
    expect(report.error).toMatch(/no champion/);
  });
});
