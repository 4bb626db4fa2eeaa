import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import autocannon from 'autocannon';
import { count, inArray } from 'drizzle-orm';
import { httpApi } from '../api/client';
import { generateToken, hashToken } from '../auth/identities';
import { triggers } from '../db/schema';
import { fastPolicy, registerModel, writeDataset } from '../scripts/lib/scenario';
import { freePort } from '../scripts/temporal-dev-server';
import type { Stack } from '../test/helpers/stack';
import { stackProcessEnv } from '../test/helpers/worker-process';
import { startControlStack } from './lib/control-stack';
import { cpuMs, type ServerProcess, startServerProcess } from './lib/processes';

/**
 * `npm run bench:triggers`: the trigger endpoint under load, on loopback.
 * The API (api/server.ts) and a control worker run as their own processes
 * against a Temporal dev server and Postgres; autocannon, in this process,
 * sends `POST /v1/models/:model/triggers` at a fixed rate (latency corrected
 * for coordinated omission: a late request is timed from when it should have
 * been sent). Most requests carry a fresh dedup key; every tenth repeats a
 * key sent 45 requests before (answered 200 `deduplicated`). No training
 * worker runs, so the first trigger's run stays in training and every later
 * trigger takes the path a storm takes while a run is in progress: recorded,
 * then queued or coalesced by the model's workflow. A warm-up at the same
 * rate comes first and is reported apart (its latency, errors and fates): it
 * starts the model's workflow and lets the three processes compile their hot
 * paths, so the measured minute is the steady state of a storm.
 *
 *   npx tsx bench/trigger-load.ts [--rate 100] [--duration 60] [--warmup 5] [--connections 10] [--models 1]
 *
 * DATABASE_URL names the Postgres server (default: scripts/ensure-postgres);
 * Every request carries `Authorization: Bearer <token>`: CTLOOP_BENCH_TOKEN
 * if set, else a fresh token; the API process is given its hash (role `trigger`).
 * Writes bench/results/trigger-load.json and prints the same JSON.
 */

function option(name: string, fallback: number, opts: { zero?: boolean } = {}): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !opts.zero))
    throw new Error(`bench/trigger-load: --${name} must be ${opts.zero ? 'zero or positive' : 'positive'}`);
  return value;
}

const RATE = option('rate', 100);
const DURATION_S = option('duration', 60);
/** Seconds of load before the measured run (0 for none). */
const WARMUP_S = option('warmup', 5, { zero: true });
const CONNECTIONS = option('connections', 10);
/** Requests go round-robin to this many models (one, as the issue asks, unless told). */
const MODELS = option('models', 1);
const REPEAT_EVERY = 10;
/** Not a multiple of REPEAT_EVERY, so a repeated key is always one first sent fresh. */
const REPEAT_DISTANCE = 45;
/** The load's API token (role `trigger`); one is made when CTLOOP_BENCH_TOKEN is not set. */
const LOAD_TOKEN = process.env.CTLOOP_BENCH_TOKEN ?? generateToken();
/** Registers the models (role `admin`). */
const ADMIN_TOKEN = generateToken();

/** api/server.ts as its own process, configured like the stack's worker processes. */
function startApiProcess(stack: Stack, port: number): Promise<ServerProcess> {
  return startServerProcess({
    script: 'api/server.ts',
    port,
    env: {
      ...stackProcessEnv(stack),
      CTLOOP_TOKENS: JSON.stringify([
        { name: 'bench-admin', role: 'admin', sha256: hashToken(ADMIN_TOKEN) },
        { name: 'trigger-load', role: 'trigger', sha256: hashToken(LOAD_TOKEN) },
      ]),
      LOG_LEVEL: 'warn',
    },
  });
}

/**
 * The i-th request: a fresh dedup key, or every REPEAT_EVERY-th one the key
 * (and model) of a request sent REPEAT_DISTANCE before.
 */
function triggerRequest(i: number, models: readonly string[]): { path: string; body: string } {
  const repeat = i % REPEAT_EVERY === REPEAT_EVERY - 1 && i >= REPEAT_DISTANCE;
  const origin = repeat ? i - REPEAT_DISTANCE : i;
  const key = `alert-${origin}`;
  return {
    path: `/v1/models/${models[origin % models.length]}/triggers`,
    body: JSON.stringify({
      reason: 'drift',
      dedupKey: key,
      details: { monitor: 'load-generator', alert: key, psi: 0.31 },
    }),
  };
}

async function main() {
  const control = await startControlStack();
  const { temporal, stack, worker } = control;
  const server = await startApiProcess(stack, await freePort());
  try {
    const api = httpApi(server.url, ADMIN_TOKEN);
    const data = await writeDataset(stack.dataDir, 'load', { rows: 500, seed: 5 });
    const models = Array.from({ length: MODELS }, (_, m) => `trigger-load-${m}`);
    for (const model of models) await registerModel(api, model, data, fastPolicy());

    const headers = { 'content-type': 'application/json', authorization: `Bearer ${LOAD_TOKEN}` };
    // Where the CPU goes during the load, per request answered (Postgres is shared, so not counted).
    const processes = {
      api: server.pid,
      controlWorker: worker.pid,
      temporalServer: temporal.pid,
      loadGenerator: process.pid,
    };
    let sent = 0;
    /** A fixed-rate load of `seconds`, counting every answer's fate and the first answer of each refused kind. */
    const load = (seconds: number, fates: Record<string, number>, refusals: Record<string, string>) =>
      autocannon({
        url: server.url,
        method: 'POST',
        headers,
        connections: CONNECTIONS,
        overallRate: RATE,
        duration: seconds,
        timeout: 10,
        requests: [
          {
            setupRequest: (req) => ({ ...req, ...triggerRequest(sent++, models) }),
            onResponse: (status, body) => {
              let fate = `http-${status}`;
              try {
                fate = (JSON.parse(body) as { fate?: string }).fate ?? fate;
              } catch {
                // not JSON: counted by status
              }
              fates[fate] = (fates[fate] ?? 0) + 1;
              if (status >= 300) refusals[`http-${status}`] ??= body.slice(0, 500);
            },
          },
        ],
      });

    // Warm-up at the same rate, not measured: the model workflow is started, the processes' JIT
    // has compiled the hot paths and the connection pools are full, as in a running deployment.
    const warmupFates: Record<string, number> = {};
    const warmup = WARMUP_S > 0 ? await load(WARMUP_S, warmupFates, {}) : null;

    const cpuBefore = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, cpuMs(pid)]));
    const fates: Record<string, number> = {};
    const refusals: Record<string, string> = {};
    const result = await load(DURATION_S, fates, refusals);

    const answered = Object.values(fates).reduce((a, b) => a + b, 0);
    const cpuMsPerRequest = Object.fromEntries(
      Object.entries(processes).map(([k, pid]) => {
        const before = cpuBefore[k];
        const after = cpuMs(pid);
        return [
          k,
          before == null || after === null ? null : Math.round(((after - before) / answered) * 100) / 100,
        ];
      }),
    );
    const [stored] = await stack.database.db
      .select({ n: count() })
      .from(triggers)
      .where(inArray(triggers.model, models));
    const round = (x: number) => Math.round(x * 100) / 100;
    const report = {
      bench: 'trigger-load',
      at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, load average ${os.loadavg().map(round).join(' ')} at the end`,
      setup:
        'API and control worker as separate processes; Temporal dev server; Postgres; autocannon in the bench process on loopback',
      targetRate: RATE,
      durationSeconds: DURATION_S,
      warmup: {
        seconds: WARMUP_S,
        latencyMs: warmup && { p50: warmup.latency.p50, p99: warmup.latency.p99, max: warmup.latency.max },
        errors: warmup ? warmup.errors + warmup.non2xx : 0,
        fates: warmupFates,
      },
      connections: CONNECTIONS,
      models: MODELS,
      requests: { sent: result.requests.sent, answered },
      latencyMs: {
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        max: result.latency.max,
        mean: round(result.latency.mean),
      },
      goal: {
        p99Ms: 50,
        errors: 0,
        met: result.latency.p99 <= 50 && result.errors === 0 && result.non2xx === 0,
      },
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      statusCodes: Object.fromEntries(
        Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count ?? 0]),
      ),
      throughput: {
        requestsPerSecond: round(result.requests.average),
        bytesPerSecond: Math.round(result.throughput.average),
      },
      fates,
      refusals,
      cpuMsPerRequest,
      triggersStored: stored?.n ?? 0,
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/trigger-load.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report));
  } finally {
    await server.stop();
    await control.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
