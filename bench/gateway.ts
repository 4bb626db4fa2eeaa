import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { and, count, eq, sql } from 'drizzle-orm';
import { apiClient } from '../api/typed-client';
import { readDevTokens } from '../auth/dev-tokens';
import { type Db, openDatabase } from '../db/client';
import { modelVersions, predictions } from '../db/schema';
import { bootstrapChampion, fastPolicy, writeDataset } from '../scripts/lib/scenario';
import { freePort } from '../scripts/temporal-dev-server';
import { stackProcessEnv } from '../test/helpers/worker-process';
import { median } from './lib/chaos/disruptions';
import { round } from './lib/chaos/report';
import { startControlStack } from './lib/control-stack';
import { listOption, positiveOption } from './lib/options';
import { type PacedLoadFigures, pacedLoadWithCpu } from './lib/paced-load';
import { cpuMs, type ServerProcess, startServerProcess } from './lib/processes';

/**
 * `npm run bench -- gateway`: the serving path, `POST /v1/models/:model/predict`
 * for a 4-feature logistic-regression model, on loopback, in one run:
 *
 * - `bare`: the physical limit, a bare Hono handler computing the same model
 *   artifact with nothing else (bench/lib/bare-predict-server.ts);
 * - `gateway`: the gateway process (`npm run gateway`, api/gateway-server.ts)
 *   on Postgres, with authentication, validation, routing, metrics and
 *   recording; the goals are judged on it;
 * - `api`: the same route inside the API process (`npm run api`) on Postgres;
 * - `dev`: the same route inside `npm run dev` (scripts/dev.ts: the API, the
 *   workers and the embedded PGlite in one process), its champion trained
 *   there.
 *
 * Each side, in turn (bare, gateway, api, dev, bare, …): a warm-up at
 * saturation; a fixed offered load of --rate requests a second, evenly
 * spaced and open loop, each latency counted from when its request was due
 * (bench/lib/paced-load.ts, its own process); the same rate as autocannon's
 * `overallRate` (a per-second quota per connection: bursts at the start of
 * every second; kept beside the paced figures because earlier results used
 * it); then saturation (--connections, no rate). autocannon runs in this
 * process; CPU per request is the server process's own (Postgres's is not
 * counted). Afterwards every answered prediction must be in the database
 * once the writers have flushed: Postgres's rows against what the gateway and
 * API processes say they served, and the dev process's PGlite (opened here
 * after it stopped) against what it served.
 *
 *   npx tsx bench/gateway.ts [--rate 1000] [--duration 15] [--connections 20] [--runs 3] [--sides bare,gateway,api,dev]
 *
 * With CTLOOP_BENCH_PROFILE_DIR set, the servers write a V8 CPU profile there
 * when they stop (open it in Chrome DevTools).
 *
 * Writes bench/results/gateway.json and prints the same JSON.
 */

const option = (name: string, fallback: number) => positiveOption('bench/gateway', name, fallback);

const RATE = option('rate', 1000);
const DURATION_S = option('duration', 15);
const CONNECTIONS = option('connections', 20);
const RUNS = option('runs', 3);
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

/** The fixed offered load, paced (see bench/lib/paced-load.ts), with the server's CPU per request. */
const paced = (server: ServerProcess, headers: Record<string, string>) =>
  pacedLoadWithCpu(
    {
      url: `${server.url}/v1/models/${MODEL}/predict`,
      headers: { 'content-type': 'application/json', ...headers },
      body: BODY,
      rate: RATE,
      seconds: DURATION_S,
      connections: CONNECTIONS,
      settleSeconds: 1,
      timeoutSeconds: 10,
    },
    () => [server.pid],
  );

type SideName = 'bare' | 'gateway' | 'api' | 'dev';
/** `--sides bare,gateway` measures only those (bare and gateway always: the goals compare them). */
const SIDES: readonly SideName[] = [
  ...new Set<SideName>([
    'bare',
    'gateway',
    ...listOption('bench/gateway', 'sides', ['bare', 'gateway', 'api', 'dev'] as const),
  ]),
];
const WHAT: Record<SideName, string> = {
  bare: 'a bare Hono handler computing the same artifact, nothing else',
  gateway:
    'npm run gateway (api/gateway-server.ts) on Postgres: auth, validation, routing, metrics, batched recording',
  api: 'the same route in npm run api (api/server.ts) on Postgres',
  dev: 'the same route in npm run dev (scripts/dev.ts: API, workers and PGlite in one process)',
};

async function main() {
  const control = await startControlStack();
  const { stack } = control;
  const servers: ServerProcess[] = [];
  const devDir = mkdtempSync(path.join(os.tmpdir(), 'ctloop-bench-dev-'));
  try {
    // A champion trained and promoted by the loop itself (the first model skips canary and bake).
    await stack.startWorkers(['train']);
    const data = await writeDataset(stack.dataDir, 'gateway', { rows: 1000, seed: 11 });
    const policy = fastPolicy({ approval: { required: false } });
    await bootstrapChampion(stack.api(), MODEL, data, policy);
    await stack.stopWorkers();
    const [version] = await stack.database.db
      .select({ uri: modelVersions.artifactUri })
      .from(modelVersions)
      .where(and(eq(modelVersions.model, MODEL), eq(modelVersions.version, 1)));
    const artifactPath = path.join(stack.dataDir, 'bench-model.json');
    await writeFile(artifactPath, await stack.deps.artifacts.get(version!.uri));

    const start = async (script: string, env: NodeJS.ProcessEnv) => {
      const server = await startServerProcess({ script, port: await freePort(), env, nodeArgs: NODE_ARGS });
      servers.push(server);
      return server;
    };
    const bare = await start('bench/lib/bare-predict-server.ts', {
      ...process.env,
      CTLOOP_BENCH_ARTIFACT: artifactPath,
    });
    // The processes as deployed: their own configuration, log level included.
    const gateway = await start('api/gateway-server.ts', stackProcessEnv(stack));
    const api = SIDES.includes('api') ? await start('api/server.ts', stackProcessEnv(stack)) : null;
    // npm run dev as a new user runs it: its own data folder, PGlite, its own Temporal dev server.
    const { DATABASE_URL: _db, CTLOOP_ARTIFACTS_DIR: _artifacts, ...inherited } = process.env;
    const dev = SIDES.includes('dev')
      ? await start('scripts/dev.ts', {
          ...inherited,
          CTLOOP_DATA_DIR: devDir,
          TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
          TEMPORAL_UI_PORT: String(await freePort()),
          LOG_LEVEL: 'warn',
        })
      : null;
    const devToken = dev ? readDevTokens(devDir)?.['dev-admin'] : '';
    if (dev && !devToken) throw new Error('bench/gateway: npm run dev wrote no development tokens');
    if (dev) await bootstrapChampion(apiClient(dev.url, devToken!), MODEL, data, policy);

    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const sides: Partial<Record<SideName, { server: ServerProcess; headers: Record<string, string> }>> = {
      bare: { server: bare, headers: {} },
      gateway: { server: gateway, headers: bearer(stack.tokens.vera) },
      ...(api ? { api: { server: api, headers: bearer(stack.tokens.vera) } } : {}),
      ...(dev ? { dev: { server: dev, headers: bearer(devToken!) } } : {}),
    };

    const rowsBefore = await rowsOf();
    const seenOk: Record<SideName, number> = { bare: 0, gateway: 0, api: 0, dev: 0 };
    const runs = Object.fromEntries(SIDES.map((name) => [name, [] as RunFigures[]])) as Record<
      SideName,
      RunFigures[]
    >;
    for (let r = 0; r < RUNS; r++) {
      for (const name of SIDES) {
        const { server, headers } = sides[name]!;
        const warmup = await load(server, headers, { seconds: WARMUP_S });
        const fixedRate = await paced(server, headers);
        const autocannonQuota = await load(server, headers, { seconds: DURATION_S, rate: RATE });
        const saturation = await load(server, headers, { seconds: DURATION_S });
        // The paced load's settling second is answered too; its requests are counted by the server.
        seenOk[name] += warmup.ok + fixedRate.ok + autocannonQuota.ok + saturation.ok;
        runs[name].push({ fixedRate, autocannonQuota, saturation });
        console.error(
          `bench/gateway: ${name} run ${r + 1}: paced ${fixedRate.requestsPerSecond}/s p50 ${fixedRate.latencyMs.p50} p99 ${fixedRate.latencyMs.p99} ms (send lag p99 ${fixedRate.sendLagMs.p99}); autocannon quota p99 ${autocannonQuota.latencyMs.p99} ms; saturation ${saturation.requestsPerSecond}/s p99 ${saturation.latencyMs.p99} ms`,
        );
      }
    }
    // The writers flush within milliseconds; give them a second. autocannon does not count the
    // answers still in flight when a load ends, so each process's own counter says how many it served.
    await new Promise((r) => setTimeout(r, 1_500));
    const servedOnPostgres = (await servedBy(gateway.url)) + (api ? await servedBy(api.url) : 0);
    const writtenOnPostgres = (await rowsOf()) - rowsBefore;
    const servedOnPglite = dev ? await servedBy(dev.url) : 0;
    // Stopped with SIGTERM, dev writes what it buffered; then its PGlite is read here.
    await dev?.stop();
    const writtenOnPglite = dev ? await pgliteRows(devDir) : 0;
    const storage = await storagePerMillion();

    const summaries = Object.fromEntries(SIDES.map((name) => [name, summarise(runs[name])])) as Record<
      SideName,
      ReturnType<typeof summarise>
    >;
    const ratios = Object.fromEntries(
      SIDES.filter((name) => name !== 'bare').map((name) => [
        name,
        {
          throughputOfBare: round(
            summaries[name].saturationRequestsPerSecond / summaries.bare.saturationRequestsPerSecond,
          ),
          addedP99MsAtRate: round(summaries[name].fixedRateP99Ms - summaries.bare.fixedRateP99Ms),
        },
      ]),
    );
    const errorsOf = (name: SideName) =>
      runs[name].reduce(
        (n, x) =>
          n +
          x.fixedRate.errors +
          x.fixedRate.non2xx +
          x.autocannonQuota.errors +
          x.autocannonQuota.non2xx +
          x.saturation.errors +
          x.saturation.non2xx,
        0,
      );
    const gatewayRatio = ratios.gateway!;
    const rateHeld = runs.gateway.every((x) => x.fixedRate.requestsPerSecond >= RATE * 0.95);
    const ctloopErrors = SIDES.filter((name) => name !== 'bare').reduce((n, name) => n + errorsOf(name), 0);
    const report = {
      bench: 'gateway',
      at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, load average ${os.loadavg().map(round).join(' ')} at the end`,
      setup: `each side its own process on loopback; per side and run: ${WARMUP_S} s warm-up at saturation (autocannon, ${CONNECTIONS} connections); then ${DURATION_S} s at ${RATE}/s offered, evenly spaced and open loop, latency from when each request was due (bench/lib/paced-load.ts, its own process, up to ${CONNECTIONS} connections, after 1 s settling) = fixedRate; then ${DURATION_S} s of autocannon's overallRate ${RATE} (a per-second quota per connection: a burst at the start of each second) = autocannonQuota, for comparison with earlier results; then ${DURATION_S} s at saturation (autocannon in the bench process, ${CONNECTIONS} connections); sides alternate, ${RUNS} runs each`,
      sides: WHAT,
      runs,
      summary: summaries,
      comparedWithBare: ratios,
      recording: {
        postgres: { servedByGatewayAndApi: servedOnPostgres, rowsWritten: writtenOnPostgres },
        pglite: { servedByDev: servedOnPglite, rowsWritten: writtenOnPglite },
        answered2xxSeenByLoadGenerator: seenOk,
      },
      storage,
      goals: {
        side: 'gateway',
        throughputAtLeastHalfOfBare: {
          ratio: gatewayRatio.throughputOfBare,
          met: gatewayRatio.throughputOfBare >= 0.5,
        },
        addedP99AtRateAtMost5Ms: {
          addedMs: gatewayRatio.addedP99MsAtRate,
          offeredRate: RATE,
          rateHeld,
          met: rateHeld && gatewayRatio.addedP99MsAtRate <= 5,
        },
        noErrors: { errors: ctloopErrors, met: ctloopErrors === 0 },
        everyPredictionRecorded: {
          met:
            writtenOnPostgres === servedOnPostgres &&
            servedOnPostgres >= seenOk.gateway + seenOk.api &&
            writtenOnPglite === servedOnPglite &&
            servedOnPglite >= seenOk.dev,
        },
      },
    };
    await mkdir('bench/results', { recursive: true });
    // A run of some sides only is for profiling; it does not replace the full result.
    const file = SIDES.length === 4 ? 'bench/results/gateway.json' : 'bench/results/gateway.partial.tmp';
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report));
  } finally {
    for (const s of servers) await s.stop();
    await control.close();
    rmSync(devDir, { recursive: true, force: true });
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
    return countRows(stack.database.db);
  }
}

interface RunFigures {
  readonly fixedRate: PacedLoadFigures & { cpuMsPerRequest: number | null };
  readonly autocannonQuota: LoadFigures;
  readonly saturation: LoadFigures;
}

function summarise(runs: readonly RunFigures[]) {
  return {
    saturationRequestsPerSecond: median(runs.map((x) => x.saturation.requestsPerSecond)),
    fixedRateP99Ms: median(runs.map((x) => x.fixedRate.latencyMs.p99)),
    fixedRateP50Ms: median(runs.map((x) => x.fixedRate.latencyMs.p50)),
    fixedRateCpuMsPerRequest: median(runs.map((x) => x.fixedRate.cpuMsPerRequest ?? Number.NaN)),
    autocannonQuotaP99Ms: median(runs.map((x) => x.autocannonQuota.latencyMs.p99)),
    cpuMsPerRequestAtSaturation: median(runs.map((x) => x.saturation.cpuMsPerRequest ?? Number.NaN)),
  };
}

async function countRows(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(predictions).where(eq(predictions.model, MODEL));
  return row?.n ?? 0;
}

/** The bench model's rows in a stopped `npm run dev`'s PGlite. */
async function pgliteRows(dataDir: string): Promise<number> {
  const database = await openDatabase({ pgliteDir: path.join(dataDir, 'pglite') });
  try {
    return await countRows(database.db);
  } finally {
    await database.close();
  }
}

/** ctloop_gateway_requests_total of the bench model, summed over versions and roles, from a process's /metrics. */
async function servedBy(url: string): Promise<number> {
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
