import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { and, count, eq, sql } from 'drizzle-orm';
import { modelVersions, predictions } from '../db/schema';
import { bootstrapChampion, fastPolicy, writeDataset } from '../scripts/lib/scenario';
import { freePort } from '../scripts/temporal-dev-server';
import { stackProcessEnv } from '../test/helpers/worker-process';
import { median } from './lib/chaos/disruptions';
import { round } from './lib/chaos/report';
import { startControlStack } from './lib/control-stack';
import { cpuMs, type ServerProcess, startServerProcess } from './lib/processes';

/**
 * `npm run bench -- gateway`: the serving path, `POST /v1/models/:model/predict`
 * for a 4-feature logistic-regression model, on loopback, in one run:
 *
 * - `bare`: the physical limit, a bare Hono handler computing the same model
 *   artifact with nothing else (bench/lib/bare-predict-server.ts);
 * - `ctloop`: the API process (`npm run api`, api/server.ts) on Postgres,
 *   with authentication, validation, routing, metrics and recording.
 *
 * Each side, in turn (bare, ctloop, bare, ctloop, …): a warm-up at
 * saturation, then a fixed offered load (--rate, corrected for coordinated
 * omission), then saturation (--connections, no rate). autocannon runs in
 * this process; CPU per request is the server process's own (Postgres's is
 * not counted). After ctloop's runs, every answered prediction must be in
 * the database once the writer has flushed.
 *
 *   npx tsx bench/gateway.ts [--rate 1000] [--duration 15] [--connections 20] [--runs 2]
 *
 * With CTLOOP_BENCH_PROFILE_DIR set, both servers write a V8 CPU profile there
 * when they stop (open it in Chrome DevTools).
 *
 * Writes bench/results/gateway.json and prints the same JSON.
 */

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`bench/gateway: --${name} must be positive`);
  return value;
}

const RATE = option('rate', 1000);
const DURATION_S = option('duration', 15);
const CONNECTIONS = option('connections', 20);
const RUNS = option('runs', 2);
const WARMUP_S = 3;
const MODEL = 'gateway-bench';
const PROFILE_DIR = process.env.CTLOOP_BENCH_PROFILE_DIR;
const NODE_ARGS = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
const BODY = JSON.stringify({ features: { x1: 0.5, x2: -1, x3: 2, x4: 0 } });

interface LoadFigures {
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number };
  readonly answered: number;
  readonly ok: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly cpuMsPerRequest: number | null;
}

async function load(
  server: ServerProcess,
  headers: Record<string, string>,
  opts: { seconds: number; rate?: number },
) {
  const before = cpuMs(server.pid);
  const result = await autocannon({
    url: `${server.url}/v1/models/${MODEL}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: BODY,
    connections: CONNECTIONS,
    duration: opts.seconds,
    timeout: 10,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
  });
  const after = cpuMs(server.pid);
  const answered = result.requests.total;
  const ok = result['2xx'];
  const figures: LoadFigures = {
    requestsPerSecond: round(result.requests.average),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    answered,
    ok,
    errors: result.errors,
    non2xx: result.non2xx,
    cpuMsPerRequest:
      before === null || after === null || answered === 0 ? null : round((after - before) / answered),
  };
  return figures;
}

async function main() {
  const control = await startControlStack();
  const { stack } = control;
  const servers: ServerProcess[] = [];
  try {
    // A champion trained and promoted by the loop itself (the first model skips canary and bake).
    await stack.startWorkers(['train']);
    const data = await writeDataset(stack.dataDir, 'gateway', { rows: 1000, seed: 11 });
    await bootstrapChampion(stack.api(), MODEL, data, fastPolicy({ approval: { required: false } }));
    await stack.stopWorkers();
    const [version] = await stack.database.db
      .select({ uri: modelVersions.artifactUri })
      .from(modelVersions)
      .where(and(eq(modelVersions.model, MODEL), eq(modelVersions.version, 1)));
    const artifactPath = path.join(stack.dataDir, 'bench-model.json');
    await writeFile(artifactPath, await stack.deps.artifacts.get(version!.uri));

    const bare = await startServerProcess({
      script: 'bench/lib/bare-predict-server.ts',
      port: await freePort(),
      env: { ...process.env, CTLOOP_BENCH_ARTIFACT: artifactPath },
      nodeArgs: NODE_ARGS,
    });
    servers.push(bare);
    const ctloop = await startServerProcess({
      script: 'api/server.ts',
      port: await freePort(),
      // The API as deployed: its own configuration, log level included.
      env: stackProcessEnv(stack),
      nodeArgs: NODE_ARGS,
    });
    servers.push(ctloop);
    const sides = {
      bare: { server: bare, headers: {} },
      ctloop: {
        server: ctloop,
        headers: { authorization: `Bearer ${stack.tokens.vera}` },
      },
    } as const;

    const rowsBefore = await rowsOf();
    let ctloopOk = 0;
    const runs: Record<keyof typeof sides, { fixedRate: LoadFigures; saturation: LoadFigures }[]> = {
      bare: [],
      ctloop: [],
    };
    for (let r = 0; r < RUNS; r++) {
      for (const name of ['bare', 'ctloop'] as const) {
        const { server, headers } = sides[name];
        const warmup = await load(server, headers, { seconds: WARMUP_S });
        const fixedRate = await load(server, headers, { seconds: DURATION_S, rate: RATE });
        const saturation = await load(server, headers, { seconds: DURATION_S });
        if (name === 'ctloop') ctloopOk += warmup.ok + fixedRate.ok + saturation.ok;
        runs[name].push({ fixedRate, saturation });
        console.error(
          `bench/gateway: ${name} run ${r + 1}: ${fixedRate.requestsPerSecond}/s at rate p99 ${fixedRate.latencyMs.p99} ms; saturation ${saturation.requestsPerSecond}/s p99 ${saturation.latencyMs.p99} ms`,
        );
      }
    }
    // The writer flushes within 250 ms; give it a second. autocannon does not count the answers
    // still in flight when a load ends, so the gateway's own counter says how many it served.
    await new Promise((r) => setTimeout(r, 1_500));
    const recorded = (await rowsOf()) - rowsBefore;
    const served = await servedByGateway(ctloop.url);
    const storage = await storagePerMillion();

    const summary = (name: keyof typeof sides) => ({
      saturationRequestsPerSecond: median(runs[name].map((x) => x.saturation.requestsPerSecond)),
      fixedRateP99Ms: median(runs[name].map((x) => x.fixedRate.latencyMs.p99)),
      fixedRateP50Ms: median(runs[name].map((x) => x.fixedRate.latencyMs.p50)),
      cpuMsPerRequestAtSaturation: median(runs[name].map((x) => x.saturation.cpuMsPerRequest ?? Number.NaN)),
    });
    const bareSummary = summary('bare');
    const ctloopSummary = summary('ctloop');
    const throughputRatio = round(
      ctloopSummary.saturationRequestsPerSecond / bareSummary.saturationRequestsPerSecond,
    );
    const addedP99Ms = round(ctloopSummary.fixedRateP99Ms - bareSummary.fixedRateP99Ms);
    const ctloopErrors = runs.ctloop.reduce(
      (n, x) => n + x.fixedRate.errors + x.fixedRate.non2xx + x.saturation.errors + x.saturation.non2xx,
      0,
    );
    const fixedRateHeld = runs.ctloop.every((x) => x.fixedRate.requestsPerSecond >= RATE * 0.95);
    const report = {
      bench: 'gateway',
      at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, load average ${os.loadavg().map(round).join(' ')} at the end`,
      setup: `each side its own process on loopback; autocannon in the bench process, ${CONNECTIONS} connections; ${WARMUP_S} s warm-up at saturation, then ${DURATION_S} s at ${RATE}/s offered, then ${DURATION_S} s at saturation; sides alternate, ${RUNS} runs each; ctloop = api/server.ts on Postgres (auth, validation, routing, metrics, batched recording)`,
      runs,
      summary: { bare: bareSummary, ctloop: ctloopSummary },
      recording: { answered2xxSeenByLoadGenerator: ctloopOk, servedByGateway: served, rowsWritten: recorded },
      storage,
      goals: {
        throughputAtLeastHalfOfBare: { ratio: throughputRatio, met: throughputRatio >= 0.5 },
        addedP99AtRateAtMost5Ms: {
          addedMs: addedP99Ms,
          offeredRate: RATE,
          rateHeld: fixedRateHeld,
          met: fixedRateHeld && addedP99Ms <= 5,
        },
        noErrors: { errors: ctloopErrors, met: ctloopErrors === 0 },
        everyPredictionRecorded: { met: recorded === served && served >= ctloopOk },
      },
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/gateway.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report));
  } finally {
    for (const s of servers) await s.stop();
    await control.close();
  }

  /** The predictions table's size on disk (rows, indexes, TOAST) per million rows, after a VACUUM. */
  async function storagePerMillion() {
    await stack.database.db.execute(sql`vacuum analyze predictions`);
    const result = await stack.database.db.execute(
      sql`select pg_total_relation_size('predictions')::float8 as bytes, (select count(*) from predictions)::float8 as rows`,
    );
    const { bytes, rows } = (result as unknown as { rows: { bytes: number; rows: number }[] }).rows[0]!;
    return { rows, bytes, megabytesPerMillionPredictions: round(((bytes / rows) * 1e6) / 1e6) };
  }

  async function rowsOf(): Promise<number> {
    const [row] = await stack.database.db
      .select({ n: count() })
      .from(predictions)
      .where(eq(predictions.model, MODEL));
    return row?.n ?? 0;
  }
}

/** ctloop_gateway_requests_total of the bench model, summed over versions and roles, from the API's /metrics. */
async function servedByGateway(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('ctloop_gateway_requests_total{') && line.includes(`model="${MODEL}"`))
    .reduce((n, line) => n + Number(line.split(' ').pop()), 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
