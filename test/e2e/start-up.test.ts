import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { httpApi } from '../../api/client';
import { openDatabase } from '../../db/client';
import { fastPolicy, hasEnded, inStage, waitForRun, writeDataset } from '../../scripts/lib/scenario';
import { freePort } from '../../scripts/temporal-dev-server';
import { adminToken, type CtloopProcess, startCtloopProcess, timedFetch } from '../helpers/ctloop-process';
import { type OwnPostgres, startOwnPostgres } from '../helpers/own-postgres';
import { createTestDatabase, testDatabaseName } from '../helpers/postgres';

const journal = JSON.parse(
  readFileSync(new URL('../../db/migrations/meta/_journal.json', import.meta.url), 'utf8'),
) as { entries: unknown[] };

describe('start-up in any order, two of each process, on an empty database', () => {
  let pgServer: OwnPostgres | null = null;
  const processes: CtloopProcess[] = [];
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctloop-start-up-'));

  let controlQueue = '';

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    // The run waits for an approval: end it, so it does not outlive this file on the shared server.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const client = new Client({ connection });
    for await (const wf of client.workflow.list({
      query: `TaskQueue = '${controlQueue}' AND ExecutionStatus = 'Running'`,
    })) {
      await client.workflow
        .getHandle(wf.workflowId, wf.runId)
        .terminate('test file finished')
        .catch(() => {});
    }
    await connection.close();
    await pgServer?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('eight openings of one empty database at once migrate it once, none failing', async () => {
    // The race of replicas starting together, without the cost of eight processes: eight pools on
    // eight migration connections. Without the advisory lock, all but one die on a duplicate key.
    const created = await createTestDatabase(inject('postgresUrl'), testDatabaseName('start_up_race'));
    try {
      const opened = await Promise.allSettled(
        Array.from({ length: 8 }, () => openDatabase({ url: created.url })),
      );
      const failures = opened.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
      expect(failures).toEqual([]);
      for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
      const client = new pg.Client({ connectionString: created.url });
      await client.connect();
      try {
        const { rows } = await client.query('select count(*)::int as n from drizzle.__drizzle_migrations');
        expect(rows[0].n).toBe(journal.entries.length);
      } finally {
        await client.end();
      }
    } finally {
      await created.drop();
    }
  });

  it('six processes started before their database all come up once it does, migrate it once, and carry a run', async () => {
    onTestFailed(() => {
      for (const p of processes) console.error(`--- ${p.name} (tail) ---\n${p.output().slice(-3_000)}`);
    });
    // Its own server, so that it can be down when the processes start (as in docker-compose, where
    // every container starts at once and Postgres is last to accept connections).
    pgServer = await startOwnPostgres();
    await pgServer.stop();

    const suffix = randomUUID().slice(0, 8);
    controlQueue = `ct-${suffix}`;
    const admin = adminToken();
    const env = {
      ...process.env,
      DATABASE_URL: pgServer.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      CTLOOP_TASK_QUEUE: controlQueue,
      CTLOOP_TRAIN_TASK_QUEUE: `ct-train-${suffix}`,
      CTLOOP_GPU_TRAIN_TASK_QUEUE: `ct-train-gpu-${suffix}`,
      CTLOOP_DATA_DIR: dataDir,
      CTLOOP_ARTIFACTS_DIR: path.join(dataDir, 'artifacts'),
      ...admin.env,
    };
    const apiPorts = [await freePort(), await freePort()];
    for (const [i, port] of apiPorts.entries()) {
      processes.push(
        startCtloopProcess({
          name: `api-${i}`,
          script: 'api/server.ts',
          env: { ...env, PORT: String(port) },
        }),
      );
    }
    for (const i of [0, 1]) {
      processes.push(startCtloopProcess({ name: `control-${i}`, script: 'workers/control.ts', env }));
      processes.push(startCtloopProcess({ name: `train-${i}`, script: 'workers/train.ts', env }));
    }

    // Every one of them finds no database and waits for it rather than exiting.
    await Promise.all(
      processes.map((p) => p.waitFor(/registry database not reachable yet; retrying/, 120_000)),
    );
    await pgServer.start();

    await Promise.all(
      processes.map((p) => p.waitFor(p.name.startsWith('api') ? /API listening/ : /worker polling/, 180_000)),
    );
    // Healthy: both APIs reach both services (six processes starting at once on two cores may make a
    // first answer slower than the health check's deadline; healthy within a minute).
    for (const port of apiPorts) {
      const deadline = Date.now() + 60_000;
      let health = await timedFetch(`http://127.0.0.1:${port}/healthz`);
      while (health.status !== 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        health = await timedFetch(`http://127.0.0.1:${port}/healthz`);
      }
      expect(health.body).toEqual({
        status: 'ok',
        checks: { database: 'ok', temporal: 'ok' },
        checkedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    }
    for (const p of processes) {
      expect({ process: p.name, exitCode: p.exitCode() }).toEqual({ process: p.name, exitCode: null });
      expect(p.output()).not.toMatch(/duplicate key|pg_type_typname_nsp_index/);
    }
    // Six processes migrated one database: each migration was applied exactly once.
    const client = new pg.Client({ connectionString: pgServer.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        'select hash, count(*)::int as n from drizzle.__drizzle_migrations group by hash',
      );
      expect(rows).toHaveLength(journal.entries.length);
      expect(rows.every((r) => r.n === 1)).toBe(true);
    } finally {
      await client.end();
    }

    // A run through the pair: registered on one API, triggered on the other, trained by either worker.
    const [first, second] = apiPorts.map((port) => httpApi(`http://127.0.0.1:${port}`, admin.token));
    const model = 'start-up';
    const data = await writeDataset(dataDir, 'baseline', { rows: 1500, seed: 41 });
    expect(
      (await first!('POST', '/v1/models', { name: model, dataUri: data, policy: fastPolicy() })).status,
    ).toBe(201);
    const triggered = await second!('POST', `/v1/models/${model}/triggers`, { reason: 'manual' });
    expect(triggered.status).toBe(202);
    const run = await waitForRun(
      first!,
      model,
      triggered.body.runId,
      (r) => inStage('approve')(r) || hasEnded(r),
      {
        timeoutMs: 120_000,
      },
    );
    expect(run.stage).toBe('approve');
    expect(run.reports.training.done).toBe(true);
  }, 420_000);
});
