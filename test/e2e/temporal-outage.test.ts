import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { fastPolicy, hasEnded, inStage, waitForRun, writeDataset } from '../../scripts/lib/scenario';
import { freePort } from '../../scripts/temporal-dev-server';
import {
  adminToken,
  type CtloopProcess,
  healthWhen,
  startCtloopProcess,
  timedFetch,
} from '../helpers/ctloop-process';
import { type Stack, startStackWith } from '../helpers/stack';
import { startTemporalDevServer, type TemporalDevServer } from '../helpers/temporal-server';
import { stackProcessEnv } from '../helpers/worker-process';

describe('Temporal goes away and comes back', () => {
  let stateDir: string;
  let temporalPort: number;
  let temporal: TemporalDevServer | null = null;
  let stack: Stack;
  let worker: CtloopProcess;
  let apiProcess: CtloopProcess;
  let base: string;
  let headers: Record<string, string>;

  // Its own dev server, with its state in a file so that workflows survive the restart; the shared
  // server keeps serving the other test files.
  const startTemporal = async () => {
    temporal = await startTemporalDevServer({
      port: temporalPort,
      dbFilename: path.join(stateDir, 'temporal.db'),
    });
  };

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'ctloop-temporal-outage-'));
    temporalPort = await freePort();
    await startTemporal();
    stack = await startStackWith(
      {
        temporalAddress: temporal!.address,
        postgresUrl: inject('postgresUrl'),
        workflowBundlePath: inject('workflowBundlePath'),
        trainerPython: inject('trainerPython'),
      },
      { workers: false },
    );
    const port = await freePort();
    const admin = adminToken();
    base = `http://127.0.0.1:${port}`;
    headers = { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' };
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
    await stack?.close();
    await temporal?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('answers /healthz within a second and Temporal calls with 503 temporal_unavailable within seconds, then recovers within 5 s of its return', async () => {
    onTestFailed(() => {
      console.error(`--- worker (tail) ---\n${worker.output().slice(-6_000)}`);
      console.error(`--- api (tail) ---\n${apiProcess.output().slice(-3_000)}`);
    });
    const call = (method: string, p: string, body?: unknown) =>
      timedFetch(`${base}${p}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const model = 'temporal-outage';
    const data = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 41 });
    expect(
      (await call('POST', '/v1/models', { name: model, dataUri: data, policy: fastPolicy() })).status,
    ).toBe(201);
    expect((await timedFetch(`${base}/healthz`)).status).toBe(200);

    await temporal!.stop();
    const down = Date.now();

    // The background checks see the outage within a refresh and a deadline; every probe is answered at once.
    const health = await healthWhen(base, (res) => res.status === 503, 3_000);
    expect(health.body).toMatchObject({ status: 'degraded', checks: { database: 'ok' } });
    expect(health.body.checks.temporal).toMatch(/^error: /);
    expect(health.slowestMs).toBeLessThan(1_000);
    const again = await timedFetch(`${base}/healthz`);
    expect(again.status).toBe(503);
    expect(again.ms).toBeLessThan(1_000);

    // Calls that need Temporal: refused fast, with the code that says what is down.
    const callTimes: number[] = [];
    for (const [method, p, body] of [
      ['POST', `/v1/models/${model}/triggers`, { reason: 'manual' }],
      ['POST', `/v1/models/${model}/triggers`, { reason: 'performance', details: {} }],
      ['POST', `/v1/models/${model}/triggers`, { reason: 'drift', details: {} }],
    ] as const) {
      const res = await call(method, p, body);
      expect({ call: `${method} ${p}`, status: res.status, code: res.body?.error?.code }).toEqual({
        call: `${method} ${p}`,
        status: 503,
        code: 'temporal_unavailable',
      });
      callTimes.push(res.ms);
    }
    expect(Math.max(...callTimes)).toBeLessThan(3_000);
    // What only the registry knows is still served.
    expect((await call('GET', `/v1/models/${model}`)).status).toBe(200);

    // Down for a while, as a restart in production would be; the processes must not give up.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(worker.exitCode()).toBeNull();
    expect(apiProcess.exitCode()).toBeNull();

    await startTemporal();
    const back = Date.now();
    let recoveryMs = -1;
    while (recoveryMs < 0) {
      const health = await timedFetch(`${base}/healthz`);
      if (health.status === 200) recoveryMs = Date.now() - back;
      else {
        expect(Date.now() - back).toBeLessThan(15_000);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(recoveryMs).toBeLessThan(5_000);

    // And the workers are back too: a run goes from trigger to the approval wait.
    const triggered = await call('POST', `/v1/models/${model}/triggers`, { reason: 'manual' });
    expect(triggered.status).toBe(202);
    const waiting = await waitForRun(
      stack.api(),
      model,
      triggered.body.runId,
      (r) => inStage('approve')(r) || hasEnded(r),
      { timeoutMs: 120_000 },
    );
    expect(waiting.stage).toBe('approve');
    expect(worker.exitCode()).toBeNull();
    expect(apiProcess.exitCode()).toBeNull();

    console.log(
      JSON.stringify({
        temporalOutage: {
          outageSeconds: Number(((back - down) / 1000).toFixed(1)),
          healthzMaxMs: Math.round(Math.max(health.slowestMs, again.ms)),
          healthzDegradedAfterMs: health.afterMs,
          temporalCall503MaxMs: Math.round(Math.max(...callTimes)),
          recoveryMs,
        },
      }),
    );
  }, 300_000);
});
