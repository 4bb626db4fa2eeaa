import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftReportOfData } from '../../activities/drift';
import type { inProcessApi } from '../../api/client';
import { modelVersions } from '../../db/schema';
import { decodeReferenceSketch } from '../../domain/drift/sketch-codec';
import { seededRandom } from '../../domain/random';
import { generateDataset } from '../../domain/synthetic-data';
import {
  bootstrapChampion,
  FEATURES,
  fastPolicy,
  registerModel,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

/** A real Evidently 0.7.23 / legacy export (see test/domain/drift/evidently-report.test.ts for how it was made). */
const evidentlyExport = (name: string) =>
  JSON.parse(readFileSync(new URL(`../domain/drift/fixtures/${name}.json`, import.meta.url), 'utf8'));

/**
 * The synthetic dataset plus a categorical column `region`, coded 1..k as
 * numbers (validation and training read every feature as a number), drawn
 * with the given shares.
 */
async function writeWithRegion(dir: string, name: string, seed: number, shares: readonly number[]) {
  const rand = seededRandom(seed + 1000);
  const [header, ...rows] = generateDataset({ rows: 1500, seed }).trimEnd().split('\n');
  const region = () => {
    const u = rand();
    let cumulative = 0;
    for (let k = 0; k < shares.length; k++) {
      cumulative += shares[k]!;
      if (u < cumulative) return k + 1;
    }
    return shares.length;
  };
  const file = path.join(dir, `${name}.csv`);
  await writeFile(file, [`${header},region`, ...rows.map((row) => `${row},${region()}`)].join('\n'));
  return file;
}

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

  it("judges an Evidently export with the model's policy, not Evidently's own dataset verdict", async () => {
    const model = 'drift-evidently';
    await registerModel(api, model, baseline, fastPolicy());
    // Legacy DataDriftPreset: x1 and plan drifted by KS / chi-squared; Evidently itself said
    // dataset_drift: false (2 of 5 < its 50 %), the model's policy needs 30 %.
    const legacy = await api(
      'POST',
      `/v1/models/${model}/drift-reports`,
      evidentlyExport('evidently-legacy'),
    );
    expect(legacy.status).toBe(201);
    expect(legacy.body).toMatchObject({ drifted: true, trigger: { fate: 'started' } });
    expect(legacy.body.verdict).toMatchObject({ format: 'evidently-legacy', share: 0.4 });
    const stored = await api('GET', `/v1/models/${model}/drift-reports/${legacy.body.reportId}`);
    expect(stored.body).toMatchObject({ source: 'monitor', requestedBy: 'admin', drifted: true });
    expect(stored.body.report.features[0]).toMatchObject({
      name: 'x1',
      stattest: 'K-S p_value',
      monitorDrifted: true,
      drifted: true,
    });

    // 0.7 default preset: distances, judged at Evidently's threshold for them.
    const current = await api('POST', `/v1/models/${model}/drift-reports`, {
      ...evidentlyExport('evidently-0.7-default'),
    });
    expect(current.status).toBe(201);
    expect(current.body.verdict).toMatchObject({ format: 'evidently-0.7', drifted: true, share: 0.4 });
    expect(current.body.verdict.reasons).toContain(
      "x1: Wasserstein distance (normed) 1.09 ≥ 0.1 (the monitor's threshold)",
    );

    const broken = evidentlyExport('evidently-0.7-ks');
    delete broken.metrics[2].config.column;
    const bad = await api('POST', `/v1/models/${model}/drift-reports`, broken);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      code: 'invalid_request',
      message: 'evidently report: metrics[2].config.column is missing',
    });
    const notAReport = await api('POST', `/v1/models/${model}/drift-reports`, { metrics: 'none' });
    expect(notAReport.status).toBe(400);
    expect(notAReport.body.error.code).toBe('invalid_request');
    expect(notAReport.body.error.message).toMatch(/^invalid request \(json\): metrics: /);
  });

  it("judges Evidently's Snapshot.dump_dict() export like its json(), and says what a body that is neither should be", async () => {
    const model = 'drift-evidently-snapshot';
    await registerModel(api, model, baseline, fastPolicy());
    const snapshot = evidentlyExport('evidently-0.7-snapshot');
    const judged = await api('POST', `/v1/models/${model}/drift-reports`, snapshot);
    expect(judged.status).toBe(201);
    // x1 (KS) and plan (chi-squared) drifted: 2 of 5 features, over the policy's 30 %.
    expect(judged.body.verdict).toMatchObject({
      format: 'evidently-0.7-snapshot',
      drifted: true,
      share: 0.4,
    });
    expect(judged.body.trigger).toMatchObject({ fate: 'started' });
    const viaJson = await api(
      'POST',
      `/v1/models/${model}/drift-reports`,
      evidentlyExport('evidently-0.7-ks'),
    );
    expect(viaJson.body.verdict.features).toEqual(judged.body.verdict.features);

    // What an older client sent by mistake: the snapshot without its results.
    const { metric_results: _, ...withoutResults } = snapshot;
    const bad = await api('POST', `/v1/models/${model}/drift-reports`, withoutResults);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe(
      "invalid request (json): a drift report is one of {features: [{name, psi?, pValue?}]} (a monitor's statistics); or {metrics: [...]} (Evidently snapshot.json(), or a legacy report.json()); or {metric_results: {...}} (Evidently Snapshot.dump_dict()); or {dataUri} (a batch of current data for ctloop to compare); found an object with keys report, name, timestamp, metadata, tags, top_level_metrics, widgets, tests_widgets",
    );
    expect(bad.body.error.details).toEqual({
      expected: ['features', 'metrics', 'metric_results', 'dataUri'],
      found:
        'an object with keys report, name, timestamp, metadata, tags, top_level_metrics, widgets, tests_widgets',
    });
    const array = await api('POST', `/v1/models/${model}/drift-reports`, [1, 2]);
    expect(array.status).toBe(400);
    expect(array.body.error.message).toMatch(/; found an array$/);
  });

  it('flags a batch whose categorical column shifted, by chi-squared on its category counts', async () => {
    const model = 'drift-categorical';
    const policy = fastPolicy({
      schema: {
        features: [
          ...FEATURES.map((name) => ({ name, min: -20, max: 20 })),
          { name: 'region', type: 'categorical', min: 1, max: 5 },
        ],
        label: 'label',
      },
    });
    const reference = await writeWithRegion(stack.dataDir, 'regions', 84, [0.4, 0.3, 0.2, 0.1]);
    await bootstrapChampion(api, model, reference, policy, stack.api('alice'));
    // Same x1..x4 distribution; region's mix reversed and a fifth region the champion never saw.
    const batch = await writeWithRegion(stack.dataDir, 'regions-moved', 85, [0.1, 0.2, 0.3, 0.35, 0.05]);

    const accepted = await api('POST', `/v1/models/${model}/drift-reports`, { dataUri: batch });
    const report = await finished(model, accepted.body.reportId);

    expect(report.status).toBe('done');
    const byName = Object.fromEntries(report.report.features.map((f: { name: string }) => [f.name, f]));
    expect(byName.region).toMatchObject({ kind: 'categorical', test: 'chi2', dof: 4, drifted: true });
    expect(byName.region.adjustedPValue).toBeLessThan(1e-10);
    expect(byName.region.unseen).toEqual([{ category: '5', curShare: expect.closeTo(0.05, 1) }]);
    expect(byName.region.reasons).toContainEqual(expect.stringMatching(/^chi² .* \(dof 4\), BH-adjusted p/));
    for (const name of FEATURES)
      expect(byName[name]).toMatchObject({ kind: 'numeric', test: 'ks', drifted: false });
    // One feature of five (20 %) is below the policy's 30 %: recorded, no retrain.
    expect(report).toMatchObject({ drifted: false, runId: null });
    expect(report.report.verdict.reasons[1]).toMatch(/^region: /);
  });

  it('reads a Parquet batch (written by pyarrow) like a CSV one', async () => {
    const model = 'drift-parquet';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    // 1,500 rows of generateDataset({seed: 86, shift: 1.5}) written by pyarrow with Snappy pages.
    const batch = new URL('../domain/drift/fixtures/shifted-1500.parquet', import.meta.url).pathname;
    const accepted = await api('POST', `/v1/models/${model}/drift-reports`, { dataUri: batch });
    const report = await finished(model, accepted.body.reportId);

    expect(report).toMatchObject({ status: 'done', drifted: true, currentUri: batch });
    expect(report.report.features.map((f: { current: { count: number } }) => f.current.count)).toEqual([
      1500, 1500, 1500, 1500,
    ]);
    expect(report.report.verdict.share).toBe(1);
    expect(report.runId).toBeTruthy();
  });

  it("measures a batch against the champion's reference sketch, made when it was trained, within its tolerances", async () => {
    const model = 'drift-sketch';
    // 12,000 rows: more than the 10,000 a sketch stores whole, so it holds quantiles.
    const reference = await writeDataset(stack.dataDir, 'sketch-reference', { rows: 12_000, seed: 88 });
    await bootstrapChampion(api, model, reference, fastPolicy(), stack.api('alice'));
    const { db } = stack.database;
    const [version] = await db.select().from(modelVersions).where(eq(modelVersions.model, model));
    expect(version!.referenceSketchUri).toBe(`artifact://${model}/${version!.runId}/reference-sketch.bin`);
    const sketch = decodeReferenceSketch(await stack.deps.artifacts.get(version!.referenceSketchUri!));
    expect([...sketch.features.keys()]).toEqual(FEATURES);
    expect(sketch.features.get(FEATURES[0]!)).toMatchObject({ kind: 'numeric', count: 12_000, missing: 0 });

    const batch = await writeDataset(stack.dataDir, 'sketch-batch', { rows: 11_000, seed: 89, shift: 0.05 });
    const accepted = await api('POST', `/v1/models/${model}/drift-reports`, { dataUri: batch });
    const sketched = await finished(model, accepted.body.reportId);
    expect(sketched).toMatchObject({ status: 'done', referenceUri: reference });
    expect(sketched.report.referenceSketch).toEqual({ uri: version!.referenceSketchUri, resolution: 2000 });

    // The exact computation on the same files: PSI equal, the exact D within [statistic, statisticUpperBound].
    const features = FEATURES.map((name) => ({ name, kind: 'numeric' as const }));
    const exact = await driftReportOfData(
      stack.deps.artifacts,
      { referenceUri: reference, currentUri: batch, features, policy: sketched.report.policy },
      1,
    );
    exact.features.forEach((e, i) => {
      const s = sketched.report.features[i];
      expect(s.psi).toBe(e.psi);
      expect(s.statistic).toBeLessThanOrEqual(e.statistic);
      expect(e.statistic).toBeLessThanOrEqual(s.statisticUpperBound);
      expect(s.statisticUpperBound - s.statistic).toBeLessThanOrEqual(1 / 2000 + 2 / 12_000);
    });
    expect(sketched.drifted).toBe(exact.verdict.drifted);

    // A version without a sketch (say, registered from MLflow) is compared with its data.
    await db.update(modelVersions).set({ referenceSketchUri: null }).where(eq(modelVersions.id, version!.id));
    const again = await api('POST', `/v1/models/${model}/drift-reports`, { dataUri: batch });
    const fromData = await finished(model, again.body.reportId);
    expect(fromData.report.referenceSketch).toBeUndefined();
    expect(fromData.report.features.map((f: { statistic: number }) => f.statistic)).toEqual(
      exact.features.map((f) => f.statistic),
    );
  });
});
