/**
 * The serving path, on a Postgres of the test's own so that it can go away.
 * Prediction recording off the request path (serving/prediction-writer.ts): predictions are
 * answered before they are written and land within a flush, with the
 * per-version aggregates the canary reads; labels join them whether or not
 * they were written yet; nothing is lost through an outage or a SIGTERM; a
 * full buffer pushes back on callers instead of growing. Routing is cached
 * per process: a change made elsewhere reaches every replica (API and
 * `npm run gateway` processes) within the cache's TTL.
 */
import { randomUUID } from 'node:crypto';
import { and, count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { predictionStats, predictions } from '../../db/schema';
import { bootstrapChampion, fastPolicy, registerModel, writeDataset } from '../../scripts/lib/scenario';
import { freePort } from '../../scripts/temporal-dev-server';
import { SERVING_CACHE_TTL_MS } from '../../serving/gateway';
import { prunePredictions } from '../../serving/prediction-retention';
import {
  createPredictionWriter,
  type PredictionRow,
  RecordingBacklogError,
} from '../../serving/prediction-writer';
import { startCtloopProcess, timedFetch } from '../helpers/ctloop-process';
import { type OwnPostgres, startOwnPostgres } from '../helpers/own-postgres';
import { type Stack, startStackWith } from '../helpers/stack';
import { stackProcessEnv } from '../helpers/worker-process';

const features = { x1: 0.5, x2: -1, x3: 2, x4: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the serving path', () => {
  let pgServer: OwnPostgres;
  let stack: Stack;
  const model = 'recorded';

  beforeAll(async () => {
    pgServer = await startOwnPostgres();
    stack = await startStackWith({
      temporalAddress: inject('temporalAddress'),
      postgresUrl: pgServer.url,
      workflowBundlePath: inject('workflowBundlePath'),
      trainerPython: inject('trainerPython'),
    });
    const data = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 41 });
    await bootstrapChampion(stack.api(), model, data, fastPolicy(), stack.api('alice'));
  }, 240_000);

  afterAll(async () => {
    await pgServer?.start().catch(() => {});
    await stack?.close();
    await pgServer?.destroy();
  });

  const rowsOf = async (m: string) =>
    (await stack.database.db.select({ n: count() }).from(predictions).where(eq(predictions.model, m)))[0]!.n;

  it('answers first and writes within a flush; the canary counts each routing apart; labels join buffered and written predictions alike', async () => {
    const api = stack.api();
    const { since } = await stack.deps.gateway.setRoute(model, {
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    const before = await rowsOf(model);
    const answers = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        api('POST', `/v1/models/${model}/predict`, { features, key: `user-${i}` }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));

    // A label for a prediction answered a moment ago (probably still buffered) is taken.
    const first = answers[0]!.body;
    const wrongLabel = first.label === 1 ? 0 : 1;
    expect(
      (
        await api('POST', `/v1/models/${model}/feedback`, {
          predictionId: first.predictionId,
          label: wrongLabel,
        })
      ).status,
    ).toBe(200);

    // Within a flush (250 ms) every prediction is in the database, once.
    await sleep(600);
    expect((await rowsOf(model)) - before).toBe(120);
    const traffic = (await stack.deps.gateway.traffic(model, [1], since)).get(1)!;
    expect(traffic).toMatchObject({ requests: 120, errors: 0, labelled: 1, correct: 0 });
    expect(traffic.latencyMs).toHaveLength(120);
    expect(traffic.latencyMsP50).toBeGreaterThan(0);

    // A label for a written prediction; a second label for the same prediction replaces the first
    // (labelled stays 1, correct follows the new label).
    const second = answers[1]!.body;
    expect(
      (
        await api('POST', `/v1/models/${model}/feedback`, {
          predictionId: second.predictionId,
          label: second.label,
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await api('POST', `/v1/models/${model}/feedback`, {
          predictionId: first.predictionId,
          label: first.label,
        })
      ).status,
    ).toBe(200);
    const labelled = (await stack.deps.gateway.traffic(model, [1], since)).get(1)!;
    expect(labelled).toMatchObject({ requests: 120, labelled: 2, correct: 2 });
    const [row] = await stack.database.db
      .select({ label: predictions.label })
      .from(predictions)
      .where(eq(predictions.id, first.predictionId));
    expect(row!.label).toBe(first.label);

    // A prediction that does not exist, or belongs to another model: 404, nothing written.
    const unknown = await api('POST', `/v1/models/${model}/feedback`, {
      predictionId: randomUUID(),
      label: 1,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown_prediction');

    // A new routing (a canary step) starts a new count: the analysis sees only its own traffic.
    const { since: next } = await stack.deps.gateway.setRoute(model, {
      championVersion: 1,
      candidateVersion: null,
      candidateWeight: 0,
    });
    expect((await stack.deps.gateway.traffic(model, [1], next)).get(1)!.requests).toBe(0);
    for (let i = 0; i < 5; i++) await api('POST', `/v1/models/${model}/predict`, { features });
    await sleep(600);
    expect((await stack.deps.gateway.traffic(model, [1], next)).get(1)!.requests).toBe(5);
    expect((await stack.deps.gateway.traffic(model, [1], since)).get(1)!.requests).toBe(125);
  });

  it('keeps buffered predictions through a Postgres outage, pushes back when the buffer is full, and writes every one after', async () => {
    const flushErrors: number[] = [];
    const writer = createPredictionWriter(stack.database.db, {
      flushIntervalMs: 100,
      maxBufferedRows: 50,
      maxWaitMs: 300,
      onFlushError: (_err, attempt) => flushErrors.push(attempt),
    });
    const m = `outage-${randomUUID().slice(0, 8)}`;
    const routeSince = new Date();
    const row = (i: number): PredictionRow => ({
      id: randomUUID(),
      model: m,
      version: 1,
      role: 'champion',
      // Keys a client may send: quotes, a backslash, separators and braces must reach Postgres as sent.
      requestKey: `k${i} "q" \\ ,{}'NULL é`,
      prediction: 0.9,
      error: false,
      latencyMs: 1 + i / 1000,
      createdAt: new Date(),
      routeSince,
      label: null,
      labelledAt: null,
    });
    for (let i = 0; i < 20; i++) await writer.record(row(i));
    await sleep(400);
    expect(await rowsOf(m)).toBe(20);

    await pgServer.stop();
    try {
      // The buffer takes 50 more while the database is away; each answer is immediate.
      const started = performance.now();
      for (let i = 20; i < 70; i++) await writer.record(row(i));
      expect(performance.now() - started).toBeLessThan(200);
      // The 51st waits for room, then is refused: the caller hears of it, memory does not grow.
      const refusedAt = performance.now();
      await expect(writer.record(row(70))).rejects.toBeInstanceOf(RecordingBacklogError);
      expect(performance.now() - refusedAt).toBeGreaterThanOrEqual(290);
      expect(writer.stats().buffered).toBe(50);
      await sleep(500);
      expect(flushErrors.length).toBeGreaterThan(0);
    } finally {
      await pgServer.start();
    }

    // Back: the retries write all 50, once each, and the aggregate counts 70.
    const deadline = Date.now() + 20_000;
    while ((await rowsOf(m).catch(() => -1)) < 70 && Date.now() < deadline) await sleep(200);
    expect(await rowsOf(m)).toBe(70);
    const [stats] = await stack.database.db
      .select()
      .from(predictionStats)
      .where(and(eq(predictionStats.model, m), eq(predictionStats.version, 1)));
    expect(stats).toMatchObject({ requests: 70, errors: 0, labelled: 0 });
    expect(stats!.latenciesMs).toHaveLength(70);
    const keys = await stack.database.db
      .select({ key: predictions.requestKey })
      .from(predictions)
      .where(eq(predictions.model, m));
    expect(new Set(keys.map((k) => k.key))).toEqual(
      new Set(Array.from({ length: 70 }, (_, i) => row(i).requestKey)),
    );
    expect(await writer.close()).toEqual({ unwritten: 0 });
  });

  /** An API (`npm run api`) or gateway (`npm run gateway`) process on the test's stack, once it listens. */
  const startReplica = async (kind: 'api' | 'gateway', i = 1) => {
    const port = await freePort();
    const proc = startCtloopProcess({
      name: `${kind}-${i}`,
      script: kind === 'api' ? 'api/server.ts' : 'api/gateway-server.ts',
      env: { ...stackProcessEnv(stack), PORT: String(port) },
    });
    await proc.waitFor(kind === 'api' ? /API listening/ : /gateway listening/, 90_000);
    return { kind, proc, url: `http://127.0.0.1:${port}` };
  };

  it.each(['api', 'gateway'] as const)(
    'the %s process stopped with SIGTERM writes every prediction it answered before it exits',
    async (kind) => {
      const replica = await startReplica(kind);
      try {
        const headers = { authorization: `Bearer ${stack.tokens.admin}`, 'content-type': 'application/json' };
        const before = await rowsOf(model);
        const answers = await Promise.all(
          Array.from({ length: 200 }, () =>
            timedFetch(`${replica.url}/v1/models/${model}/predict`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ features }),
            }),
          ),
        );
        expect(answers.every((a) => a.status === 200)).toBe(true);
        // Stopped at once, well within a flush interval of the last answer.
        await replica.proc.kill('SIGTERM');
        expect(replica.proc.exitCode()).toBe(0);
        expect((await rowsOf(model)) - before).toBe(200);
      } finally {
        await replica.proc.kill('SIGKILL');
      }
    },
  );

  it('the gateway process answers every request as the API does: same tokens, validation and error bodies', async () => {
    const [api, gateway] = await Promise.all([startReplica('api'), startReplica('gateway')]);
    try {
      const json = { 'content-type': 'application/json' };
      const admin = { authorization: `Bearer ${stack.tokens.admin}`, ...json };
      const cases: [string, string, Record<string, string>, string | undefined][] = [
        ['POST', `/v1/models/${model}/predict`, admin, JSON.stringify({ features })],
        ['POST', `/v1/models/${model}/predict`, json, JSON.stringify({ features })],
        ['POST', `/v1/models/${model}/predict`, { ...json, authorization: 'Bearer ctl_nope' }, '{}'],
        ['POST', `/v1/models/${model}/predict`, admin, '{"features": '],
        ['POST', `/v1/models/${model}/predict`, admin, JSON.stringify({ features: { x1: 'high' } })],
        ['POST', `/v1/models/${model}/predict`, admin, JSON.stringify({ features: 'a' })],
        ['POST', `/v1/models/${model}/predict`, { authorization: admin.authorization }, 'x1=1'],
        ['POST', `/v1/models/${model}/predict`, admin, JSON.stringify({ features, key: 'a\u0000b' })],
        [
          'POST',
          `/v1/models/${model}/predict`,
          admin,
          JSON.stringify({ features, pad: 'x'.repeat(1_100_000) }),
        ],
        ['POST', '/v1/models/no-such-model/predict', admin, JSON.stringify({ features })],
        ['POST', `/v1/models/${'x'.repeat(300)}/predict`, admin, JSON.stringify({ features })],
        ['GET', `/v1/models/${model}/predict`, admin, undefined],
        ['DELETE', `/v1/models/${model}/feedback`, {}, undefined],
        ['POST', `/v1/models/${model}/feedback`, admin, JSON.stringify({ predictionId: 'nope', label: 1 })],
        [
          'POST',
          `/v1/models/${model}/feedback`,
          admin,
          JSON.stringify({ predictionId: randomUUID(), label: 1 }),
        ],
        ['POST', `/v1/models/${model}/feedback`, admin, JSON.stringify({ label: 1 })],
      ];
      for (const [method, p, headers, body] of cases) {
        const [fromApi, fromGateway] = await Promise.all([
          timedFetch(`${api.url}${p}`, { method, headers, body }),
          timedFetch(`${gateway.url}${p}`, { method, headers, body }),
        ]);
        const seen = (r: typeof fromApi) => ({
          call: `${method} ${p.slice(0, 60)} ${body?.slice(0, 40)}`,
          status: r.status,
          code: r.body?.error?.code,
          allow: r.status === 405 ? r.body?.error?.details?.allowed : undefined,
        });
        expect(seen(fromGateway)).toEqual(seen(fromApi));
        expect(fromGateway.status).toBeLessThan(500);
      }
      // A body streamed without a length is counted as it arrives, and refused past 1 MiB by both.
      for (const replica of [api, gateway]) {
        const big = JSON.stringify({ features, pad: 'x'.repeat(1_100_000) });
        const res = await fetch(`${replica.url}/v1/models/${model}/predict`, {
          method: 'POST',
          headers: admin,
          body: new Blob([big]).stream(),
          duplex: 'half',
          signal: AbortSignal.timeout(10_000),
        } as RequestInit);
        expect(res.status).toBe(413);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_large');
      }
      // What is not the serving path is the API's, and the gateway says so rather than answering it.
      const elsewhere = await timedFetch(`${gateway.url}/v1/models`, { headers: admin });
      expect(elsewhere.status).toBe(404);
      expect(elsewhere.body.error.message).toMatch(/serving gateway/);
      const health = await timedFetch(`${gateway.url}/healthz`);
      expect(health.body).toMatchObject({ status: 'ok', checks: { database: 'ok' } });
    } finally {
      await Promise.all([api.proc.kill('SIGKILL'), gateway.proc.kill('SIGKILL')]);
    }
  });

  it('npm run gateway without DATABASE_URL exits at once with a message that says why', async () => {
    const { DATABASE_URL: _url, ...env } = stackProcessEnv(stack);
    const proc = startCtloopProcess({ name: 'gateway', script: 'api/gateway-server.ts', env });
    const deadline = Date.now() + 60_000;
    while (proc.exitCode() === null) {
      expect(Date.now()).toBeLessThan(deadline);
      await sleep(100);
    }
    expect(proc.exitCode()).toBe(2);
    expect(proc.output()).toMatch(/npm run gateway needs DATABASE_URL/);
    expect(proc.output()).not.toMatch(/\n\s+at /);
  });

  it('a routing change made by another process reaches every replica (API and gateways) within the cache TTL', async () => {
    const replicas = await Promise.all([
      startReplica('api'),
      startReplica('gateway', 1),
      startReplica('gateway', 2),
    ]);
    try {
      const headers = { authorization: `Bearer ${stack.tokens.admin}`, 'content-type': 'application/json' };
      const status = async (url: string) =>
        (
          await timedFetch(`${url}/v1/models/${model}/predict`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ features }),
          })
        ).status;
      /** Sets the routing (as a worker would) and returns how long until each replica answers `expected`. */
      const change = async (championVersion: number | null, expected: number) => {
        for (const r of replicas) expect(await status(r.url)).not.toBe(expected);
        await stack.deps.gateway.setRoute(model, {
          championVersion,
          candidateVersion: null,
          candidateWeight: 0,
        });
        const changedAt = performance.now();
        return Promise.all(
          replicas.map(async (r) => {
            while ((await status(r.url)) !== expected) {
              if (performance.now() - changedAt > 10_000) throw new Error('routing change never arrived');
              await sleep(20);
            }
            return Math.round(performance.now() - changedAt);
          }),
        );
      };
      // Feedback sent to one replica for a prediction another answered a moment ago is taken.
      const feedbackMs: number[] = [];
      for (let i = 0; i < 6; i++) {
        const [from, to] = [replicas[i % 3]!, replicas[(i + 1) % 3]!];
        const predicted = await timedFetch(`${from.url}/v1/models/${model}/predict`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ features }),
        });
        expect(predicted.status).toBe(200);
        const labelled = await timedFetch(`${to.url}/v1/models/${model}/feedback`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ predictionId: predicted.body.predictionId, label: 1 }),
        });
        expect(labelled.status).toBe(200);
        feedbackMs.push(Math.round(labelled.ms));
      }
      console.info(`feedback through the other replica took ${feedbackMs.join(', ')} ms`);

      const delays: number[] = [];
      for (let i = 0; i < 3; i++) {
        // Nothing served (an emergency stop), then the champion again.
        delays.push(...(await change(null, 409)));
        delays.push(...(await change(1, 200)));
      }
      console.info(`routing change reached the replicas after ${delays.join(', ')} ms`);
      // Within the cache TTL, plus a request's time and the poll interval.
      for (const d of delays) expect(d).toBeLessThanOrEqual(SERVING_CACHE_TTL_MS + 300);
    } finally {
      for (const r of replicas) await r.proc.kill('SIGKILL');
    }
  });
  it("deletes raw predictions past each model's retention, in batches, and keeps the aggregates", async () => {
    const db = stack.database.db;
    const api = stack.api();
    // A second model keeps its predictions 90 days; `recorded` has the default 30.
    const data = await writeDataset(stack.dataDir, 'long-memory', { rows: 300, seed: 3 });
    await registerModel(api, 'long-memory', data, fastPolicy({ serving: { retentionDays: 90 } }));
    const writer = createPredictionWriter(db, { flushIntervalMs: 50 });
    const day = 86_400_000;
    const routeSince = new Date(Date.now() - 50 * day);
    const rows = (m: string, ageDays: number, n: number): PredictionRow[] =>
      Array.from({ length: n }, (_, i) => ({
        id: randomUUID(),
        model: m,
        version: 1,
        role: 'champion',
        requestKey: `aged-${ageDays}-${i}`,
        prediction: 0.8,
        error: false,
        latencyMs: 2,
        createdAt: new Date(Date.now() - ageDays * day),
        routeSince,
        label: null,
        labelledAt: null,
      }));
    const old = rows(model, 40, 23);
    const recent = rows(model, 10, 5);
    for (const r of [...old, ...recent, ...rows('long-memory', 40, 4)]) await writer.record(r);
    expect(await writer.close()).toEqual({ unwritten: 0 });
    const statsBefore = await db
      .select()
      .from(predictionStats)
      .where(eq(predictionStats.routeSince, routeSince));

    const kept = await rowsOf(model);
    // Batches of 10: the 23 old rows go in three.
    const report = await prunePredictions(db, { batchRows: 10 });
    expect(report.deleted).toEqual({ [model]: 23 });
    expect(report.skipped).toEqual({});
    expect(await rowsOf(model)).toBe(kept - 23);
    expect(await rowsOf('long-memory')).toBe(4);
    // A second round finds nothing more.
    expect((await prunePredictions(db)).deleted).toEqual({});
    // The aggregates stay as they were.
    expect(await db.select().from(predictionStats).where(eq(predictionStats.routeSince, routeSince))).toEqual(
      statsBefore,
    );
    // Feedback joins a kept prediction; a deleted one is gone.
    const feedback = (predictionId: string) =>
      api('POST', `/v1/models/${model}/feedback`, { predictionId, label: 1 });
    expect((await feedback(recent[0]!.id)).status).toBe(200);
    expect((await feedback(old[0]!.id)).status).toBe(404);
  });
});
