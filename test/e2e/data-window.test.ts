/**
 * Fresh data for every run: a model whose data source is a pattern of dated
 * partitions (dt=YYYY-MM-DD) trains each run on its window. The data shifts
 * in the last 30 days; a drift retrain takes the last 30 days, holds out the
 * newest 7, beats the champion (trained on the months before) on them and is
 * promoted; its record and the version's lineage name every partition and the
 * content hash. Stale data ends a run rejected_data; a bad window is a 400.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../domain/synthetic-data';
import { fastPolicy, registerModel, sendTraffic, trigger, waitForRun } from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

const DAY = 86_400_000;
const dayOf = (offset: number) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);

/** One CSV partition per day from `fromOffset` to `toOffset` (days from today), `rows` rows each. */
function writePartitions(
  root: string,
  fromOffset: number,
  toOffset: number,
  opts: { shift: number; rows: number },
) {
  for (let offset = fromOffset; offset <= toOffset; offset++) {
    const dir = path.join(root, `dt=${dayOf(offset)}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'part-0.csv'),
      generateDataset({ rows: opts.rows, seed: 1000 + offset, shift: opts.shift }),
    );
  }
}

describe('training windows over dated partitions', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('retrains a drifted model on the newest window and judges it on the newest days', async () => {
    const model = 'windowed';
    const root = path.join(stack.dataDir, 'churn');
    writePartitions(root, -89, -30, { shift: 0, rows: 40 }); // before: the champion's data
    writePartitions(root, -29, 0, { shift: 1.5, rows: 40 }); // the last 30 days: the world moved
    const policy = fastPolicy({
      approval: { required: false },
      data: { windowDays: 30, holdoutDays: 7, maxAgeDays: 2 },
    });
    await registerModel(stack.api(), model, path.join(root, 'dt=*', 'part-*.csv'), policy);

    // The champion: trained on the two months before the shift (a window named by the trigger).
    let trafficOn = true;
    const traffic = sendTraffic(
      stack.api('monitor'),
      model,
      generateDataset({ rows: 400, seed: 3, shift: 1.5 }),
      () => !trafficOn,
    );
    const first = await trigger(stack.api('monitor'), model, {
      reason: 'manual',
      details: { window: { from: dayOf(-89), to: dayOf(-30) } },
    });
    const champion = await waitForRun(stack.api(), model, first.runId, (r) => r.outcome !== null, {
      timeoutMs: 90_000,
    });
    expect(champion.outcome).toBe('promoted');
    expect(champion.reports.data).toMatchObject({
      from: dayOf(-89),
      to: dayOf(-30),
      override: { from: dayOf(-89), to: dayOf(-30) },
      rows: 60 * 40,
      holdoutRows: 7 * 40,
    });

    // Drift: the retrain takes the policy's window, the last 30 days.
    const retrain = await trigger(stack.api('monitor'), model, { reason: 'drift', details: { share: 1 } });
    const run = await waitForRun(stack.api(), model, retrain.runId, (r) => r.outcome !== null, {
      timeoutMs: 90_000,
    });
    trafficOn = false;
    await traffic;
    expect(run.outcome, run.outcomeReason ?? '').toBe('promoted');
    const data = run.reports.data;
    expect(data).toMatchObject({
      from: dayOf(-29),
      to: dayOf(0),
      rows: 30 * 40,
      holdoutRows: 7 * 40,
      undatedFiles: 0,
    });
    expect(data.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(data.partitions.map((p: { date: string }) => p.date)).toEqual(
      Array.from({ length: 30 }, (_, i) => dayOf(i - 29)),
    );
    expect(
      data.partitions
        .filter((p: { role: string }) => p.role === 'holdout')
        .map((p: { date: string }) => p.date),
    ).toEqual(Array.from({ length: 7 }, (_, i) => dayOf(i - 6)));
    // The candidate was judged on exactly the newest 7 days, and beat the champion there.
    expect(run.reports.evaluation.holdoutRows).toBe(7 * 40);
    expect(run.reports.evaluation.candidate.accuracy).toBeGreaterThan(
      run.reports.evaluation.champion.accuracy,
    );

    const lineage = await stack.app.request(`/v1/models/${model}/versions/2/lineage`, {
      headers: { authorization: `Bearer ${stack.tokens.vera}` },
    });
    const body = (await lineage.json()) as {
      data: { uri: string; hash: string; window: { contentHash: string } };
    };
    expect(body.data.window.contentHash).toBe(data.contentHash);
    expect(body.data.uri).toMatch(/^artifact:\/\/windowed\/.+\/data\/window\.csv$/);
    // The run's page shows the window to whoever reviews it.
    const signIn = await stack.app.request('/ui/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
      body: new URLSearchParams({ token: stack.tokens.vera }).toString(),
    });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const page = await (
      await stack.app.request(`/ui/models/${model}/runs/${retrain.runId}`, { headers: { cookie } })
    ).text();
    expect(page).toContain(`window <strong>${dayOf(-29)} … ${dayOf(0)}</strong>`);
    expect(page).toContain(`hold-out: the newest 7 partitions (${dayOf(-6)} … ${dayOf(0)}), 280 rows`);
  });

  it('ends a run rejected_data when the newest partition is older than the policy allows', async () => {
    const model = 'stale-window';
    const root = path.join(stack.dataDir, 'stale');
    writePartitions(root, -40, -10, { shift: 0, rows: 20 });
    await registerModel(
      stack.api(),
      model,
      path.join(root, 'dt=*', 'part-*.csv'),
      fastPolicy({ data: { windowDays: 30, maxAgeDays: 3 } }),
    );
    const { runId } = await trigger(stack.api('monitor'), model, { reason: 'manual' });
    const run = await waitForRun(stack.api(), model, runId, (r) => r.outcome !== null);
    expect(run.outcome).toBe('rejected_data');
    expect(run.outcomeReason).toBe(
      `data too old: the newest partition is ${dayOf(-10)}, 10 days before the run (at most 3 allowed) (source ${path.join(root, 'dt=*', 'part-*.csv')})`,
    );
  });

  it('answers a trigger with a malformed window with 400, before any run starts', async () => {
    const res = await stack.app.request('/v1/models/stale-window/triggers', {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.tokens.monitor}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        reason: 'manual',
        details: { window: { from: '2026-13-01', to: '2026-12-01' } },
      }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('window needs from and to as YYYY-MM-DD, or days');
  });

  it('holds out a seeded random sample when the policy asks, for a single file too', async () => {
    const model = 'random-holdout';
    const file = path.join(stack.dataDir, 'random-holdout.csv');
    writeFileSync(file, generateDataset({ rows: 500, seed: 77 }));
    await registerModel(
      stack.api(),
      model,
      file,
      fastPolicy({ approval: { required: false }, data: { holdout: 'random', seed: 7 } }),
    );
    const { runId } = await trigger(stack.api('monitor'), model, { reason: 'manual' });
    const run = await waitForRun(stack.api(), model, runId, (r) => r.outcome !== null);
    expect(run.outcome, run.outcomeReason ?? '').toBe('promoted');
    expect(run.reports.data).toMatchObject({
      shuffled: true,
      rows: 500,
      holdoutRows: 0,
      partitions: [{ uri: file }],
    });
    expect(run.reports.evaluation.holdoutRows).toBe(100);
    // The same rows, in another order: the last fifth is a random sample, not the file's last rows.
    const original = readFileSync(file, 'utf8').trim().split('\n');
    const materialised = (await stack.deps.artifacts.get(`artifact://${model}/${runId}/data/window.csv`))
      .toString('utf8')
      .trim()
      .split('\n');
    expect(materialised[0]).toBe(original[0]);
    expect([...materialised.slice(1)].sort()).toEqual([...original.slice(1)].sort());
    expect(materialised.slice(-100)).not.toEqual(original.slice(-100));
  });
});
