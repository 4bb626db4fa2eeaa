import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import {
  bootstrapChampion,
  fastPolicy,
  hasEnded,
  inStage,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { freePort } from '../../scripts/temporal-dev-server';
import { runStateQuery, runWorkflowId } from '../../workflows/messages';
import {
  adminToken,
  type CtloopProcess,
  healthWhen,
  startCtloopProcess,
  timedFetch,
} from '../helpers/ctloop-process';
import { type OwnPostgres, startOwnPostgres } from '../helpers/own-postgres';
import { type Stack, startStackWith } from '../helpers/stack';
import { stackProcessEnv } from '../helpers/worker-process';

/** Any trace of a statement in an answer meant for the caller. */
const SQL_TEXT = /Failed query|select |insert into|update "|delete from|params:/i;

const features = { x1: 0.5, x2: -1, x3: 2, x4: 0 };

describe('Postgres goes away during training and comes back', () => {
  let pgServer: OwnPostgres;
  let stack: Stack;
  let worker: CtloopProcess;
  let apiProcess: CtloopProcess;
  let base: string;
  let headers: Record<string, string>;

  beforeAll(async () => {
    // Its own cluster: stopping the shared one would fail every other test file running beside this one.
    pgServer = await startOwnPostgres();
    stack = await startStackWith(
      {
        temporalAddress: inject('temporalAddress'),
        postgresUrl: pgServer.url,
        workflowBundlePath: inject('workflowBundlePath'),
        trainerPython: inject('trainerPython'),
      },
      { workers: false },
    );
    const port = await freePort();
    const admin = adminToken();
    base = `http://127.0.0.1:${port}`;
    headers = { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' };
    // The API and the worker (control + training) as their own processes, as `npm run api` and
    // `npm run worker` start them: the test watches that neither exits.
    apiProcess = startCtloopProcess({
      name: 'api',
      script: 'api/server.ts',
      env: { ...stackProcessEnv(stack), PORT: String(port), ...admin.env },
    });
    worker = startCtloopProcess({ name: 'worker', script: 'workers/all.ts', env: stackProcessEnv(stack) });
    await Promise.all([
      apiProcess.waitFor(/API listening/, 90_000),
      worker.waitFor(/worker polling/, 90_000),
    ]);
  }, 240_000);

  afterAll(async () => {
    await worker?.kill();
    await apiProcess?.kill();
    await pgServer?.start().catch(() => {});
    await stack?.close();
    await pgServer?.destroy();
  });

  it('answers 503 database_unavailable within a second, keeps every process up, resumes training from its checkpoint and recovers by itself', async () => {
    onTestFailed(() => {
      console.error(`--- worker (tail) ---\n${worker.output().slice(-6_000)}`);
      console.error(`--- api (tail) ---\n${apiProcess.output().slice(-3_000)}`);
    });
    const api = stack.api();
    const model = 'pg-outage';
    const baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 41 });
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    // Training that lasts at least 9.6 s on any machine (8 ms a step), for the database to go away in the middle of it.
    const slow = fastPolicy({
      training: {
        params: { epochs: 1200, learningRate: 0.5, l2: 0.001, seed: 7, stepDelayMs: 8 },
        checkpointEvery: 100,
        heartbeatTimeoutSeconds: 5,
      },
    });
    expect((await api('PUT', `/v1/models/${model}`, { policy: slow })).status).toBe(200);
    const drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 20_000, seed: 42, shift: 1.5 });
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, (r) => (r.reports.training?.lastCheckpoint?.step ?? 0) >= 300, {
      timeoutMs: 90_000,
    });
    // Heartbeats reach the server at most a second after the checkpoint they announce.
    await new Promise((r) => setTimeout(r, 1_500));

    await pgServer.stop();
    const outageStarted = Date.now();

    // What callers see while the database is away: every kind of call, answered fast, without SQL.
    const calls: [string, string, unknown?][] = [
      ['GET', `/v1/models/${model}`],
      ['GET', `/v1/models/${model}/runs/${runId}`],
      ['GET', `/v1/models/${model}/versions`],
      ['POST', `/v1/models/${model}/predict`, { features, key: 'user-1' }],
      ['POST', `/v1/models/${model}/triggers`, { reason: 'manual' }],
    ];
    const latencies: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const [method, path, body] of calls) {
        const res = await timedFetch(`${base}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        expect({ call: `${method} ${path}`, status: res.status, code: res.body?.error?.code }).toEqual({
          call: `${method} ${path}`,
          status: 503,
          code: 'database_unavailable',
        });
        expect(JSON.stringify(res.body)).not.toMatch(SQL_TEXT);
        latencies.push(res.ms);
      }
    }
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    // /healthz answers from the state its background checks keep: the outage shows within a refresh
    // (1 s) and a check's deadline (0.8 s), and no probe waits for the database meanwhile.
    const health = await healthWhen(base, (res) => res.status === 503, 3_000);
    expect(health.body.checks.database).toMatch(/^error: /);
    expect(health.body.checks.temporal).toBe('ok');
    expect(JSON.stringify(health.body)).not.toMatch(SQL_TEXT);
    expect(health.slowestMs).toBeLessThan(1_000);

    // Training goes on without the database; its last report cannot be written, so after a while the
    // attempt gives up as preempted, carrying its checkpoints. The run's live state says so (Temporal
    // answers; the registry does not).
    const run = stack.client.workflow.getHandle(runWorkflowId(model, runId));
    const deadline = Date.now() + 120_000;
    while ((await run.query(runStateQuery)).training.preemptions < 1) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(worker.exitCode()).toBeNull();
    expect(apiProcess.exitCode()).toBeNull();

    await pgServer.start();
    const back = Date.now();
    let recoveryMs = -1;
    while (recoveryMs < 0) {
      const res = await timedFetch(`${base}/v1/models/${model}`, { headers });
      if (res.status === 200) recoveryMs = Date.now() - back;
      else {
        expect(Date.now() - back).toBeLessThan(10_000);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(recoveryMs).toBeLessThan(5_000);
    expect((await healthWhen(base, (res) => res.status === 200, 3_000)).slowestMs).toBeLessThan(1_000);

    const done = await waitForRun(api, model, runId, (r) => inStage('approve')(r) || hasEnded(r), {
      timeoutMs: 120_000,
    });
    expect(done.stage).toBe('approve');
    // The second attempt started from a checkpoint of the first, not from step 0.
    expect(done.reports.training.resumedFromStep).toBeGreaterThanOrEqual(300);
    expect(done.reports.training.step).toBe(1200);
    expect(done.live.training).toMatchObject({ preemptions: 1, crashes: 0 });
    expect(done.live.training.lastError).toMatch(/^database unavailable/);
    expect(JSON.stringify(done.live.training)).not.toMatch(SQL_TEXT);
    // Nobody restarted anything: both processes lived through it.
    expect(worker.exitCode()).toBeNull();
    expect(apiProcess.exitCode()).toBeNull();
    expect(worker.output()).not.toMatch(/unhandled promise rejection/);
    expect(worker.output()).toMatch(/resuming training from checkpoint/);

    console.log(
      JSON.stringify({
        postgresOutage: {
          outageSeconds: Number(((back - outageStarted) / 1000).toFixed(1)),
          api503: {
            calls: latencies.length,
            maxMs: Math.round(Math.max(...latencies)),
            medianMs: Math.round([...latencies].sort((a, b) => a - b)[latencies.length >> 1]!),
          },
          healthzMs: Math.round(health.slowestMs),
          recoveryMs,
          resumedFromStep: done.reports.training.resumedFromStep,
        },
      }),
    );
  }, 420_000);
});
