import os from 'node:os';
import autocannon from 'autocannon';
import { eq } from 'drizzle-orm';
import { models } from '../db/schema';
import { startMlServer } from '../scripts/lib/mlserver';
import { bootstrapChampion, fastPolicy, writeDataset } from '../scripts/lib/scenario';
import { freePort } from '../scripts/temporal-dev-server';
import { createV2Server, v2ModelName } from '../serving/v2-server';
import { stackProcessEnv } from '../test/helpers/worker-process';
import { median } from './lib/chaos/disruptions';
import { round } from './lib/chaos/report';
import { startControlStack } from './lib/control-stack';
import { positiveOption } from './lib/options';
import { pacedLoadWithCpu } from './lib/paced-load';
import { cpuMs, type ServerProcess, startServerProcess } from './lib/processes';

/**
 * `npm run bench -- gateway-v2`: issue #16's part (c), the gateway forwarding
 * to an Open Inference Protocol server (MLServer 1.7.1, ctloop's runtime, one
 * process: parallel_workers 0) against calling that server directly, and
 * against the same gateway computing the model itself, in one run:
 *
 * - `mlserver`: `POST /v2/models/<model>--v1/infer`, one row, straight to MLServer;
 * - `gateway-v2`: `POST /v1/models/<model>/predict` on `npm run gateway`
 *   (Postgres), the model's policy `serving.backend: v2`: auth, validation,
 *   routing, recording, and the row forwarded to MLServer;
 * - `gateway-builtin`: the same gateway process and route for a model it
 *   computes itself (the same training data and policy otherwise).
 *
 * Sides alternate (mlserver, gateway-v2, gateway-builtin, mlserver, …): a
 * warm-up at saturation; a fixed offered load of --rate requests a second,
 * evenly spaced and open loop (bench/lib/paced-load.ts); the same rate as
 * autocannon's per-second quota (bursts; kept because earlier results used
 * it); then saturation.
 *
 *   npx tsx bench/gateway-v2.ts [--rate 200] [--duration 10] [--connections 10] [--runs 3]
 *
 * Prints the JSON that `npm run bench` writes to bench/results/gateway-v2.json.
 */

const option = (name: string, fallback: number) => positiveOption('bench/gateway-v2', name, fallback);

const RATE = option('rate', 200);
const DURATION_S = option('duration', 10);
const CONNECTIONS = option('connections', 10);
const RUNS = option('runs', 3);
const WARMUP_S = 3;
const ROW = { x1: 0.5, x2: -1, x3: 2, x4: 0 };

type SideName = 'mlserver' | 'gateway-v2' | 'gateway-builtin';
const SIDES: readonly SideName[] = ['mlserver', 'gateway-v2', 'gateway-builtin'];

interface Target {
  readonly url: string;
  readonly body: string;
  readonly headers: Record<string, string>;
  /** The processes whose CPU the side uses (the gateway-v2 side uses both). */
  readonly pids: () => number[];
}

async function load(target: Target, opts: { seconds: number; rate?: number }) {
  const cpu = () => target.pids().reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0);
  const before = cpu();
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: target.body,
    connections: CONNECTIONS,
    duration: opts.seconds,
    timeout: 10,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
  });
  const answered = result.requests.total;
  return {
    requestsPerSecond: round(result.requests.average),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    answered,
    ok: result['2xx'],
    errors: result.errors + result.non2xx,
    cpuMsPerRequest: answered === 0 ? null : round((cpu() - before) / answered),
    loadavg: os.loadavg().map((x) => round(x)),
  };
}

/** The fixed offered load, paced, with the CPU of the side's processes per request. */
const paced = (target: Target) =>
  pacedLoadWithCpu(
    {
      url: target.url,
      headers: { 'content-type': 'application/json', ...target.headers },
      body: target.body,
      rate: RATE,
      seconds: DURATION_S,
      connections: CONNECTIONS,
      settleSeconds: 1,
      timeoutSeconds: 10,
    },
    target.pids,
  );

interface RunFigures {
  readonly fixedRate: Awaited<ReturnType<typeof paced>>;
  readonly autocannonQuota: Awaited<ReturnType<typeof load>>;
  readonly saturation: Awaited<ReturnType<typeof load>>;
}

async function main() {
  const mlserver = await startMlServer();
  const control = await startControlStack();
  const { stack } = control;
  let gateway: ServerProcess | null = null;
  try {
    await stack.startWorkers(['train']);
    const data = await writeDataset(stack.dataDir, 'gateway-v2', { rows: 1000, seed: 11 });
    const policy = fastPolicy({ approval: { required: false } });
    for (const name of ['bench-builtin', 'bench-v2'])
      await bootstrapChampion(stack.api(), name, data, policy);
    await stack.stopWorkers();
    // bench-v2 is served by MLServer: its version loaded there, its policy saying so.
    const v2 = createV2Server({ url: mlserver.url, repository: mlserver.repository });
    const [v1] = await stack.deps.db.query.modelVersions.findMany({
      where: (v, { and, eq }) => and(eq(v.model, 'bench-v2'), eq(v.version, 1)),
    });
    await v2.load(
      'bench-v2',
      1,
      JSON.parse((await stack.deps.artifacts.get(v1!.artifactUri)).toString('utf8')),
    );
    const [row] = await stack.deps.db.select().from(models).where(eq(models.name, 'bench-v2'));
    const served = { ...(row!.policy as Record<string, unknown>) };
    served.serving = { ...(served.serving as object), backend: 'v2' };
    await stack.deps.db.update(models).set({ policy: served }).where(eq(models.name, 'bench-v2'));

    gateway = await startServerProcess({
      script: 'api/gateway-server.ts',
      port: await freePort(),
      env: {
        ...stackProcessEnv(stack),
        CTLOOP_V2_URL: mlserver.url,
        CTLOOP_V2_REPOSITORY: mlserver.repository,
      },
    });
    const gatewayPid = gateway.pid;
    const auth = { authorization: `Bearer ${stack.tokens.vera}` };
    const predictBody = JSON.stringify({ features: ROW });
    const targets: Record<SideName, Target> = {
      mlserver: {
        url: `${mlserver.url}/v2/models/${v2ModelName('bench-v2', 1)}/infer`,
        body: JSON.stringify({
          inputs: [
            { name: 'features', shape: [1, 4], datatype: 'FP64', data: [ROW.x1, ROW.x2, ROW.x3, ROW.x4] },
          ],
        }),
        headers: {},
        pids: () => [mlserver.pid() ?? 0].filter(Boolean),
      },
      'gateway-v2': {
        url: `${gateway.url}/v1/models/bench-v2/predict`,
        body: predictBody,
        headers: auth,
        pids: () => [gatewayPid, mlserver.pid() ?? 0].filter(Boolean),
      },
      'gateway-builtin': {
        url: `${gateway.url}/v1/models/bench-builtin/predict`,
        body: predictBody,
        headers: auth,
        pids: () => [gatewayPid],
      },
    };
    // The answers must agree before anything is timed.
    const direct = (await (
      await fetch(targets.mlserver.url, {
        method: 'POST',
        body: targets.mlserver.body,
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as { outputs: { data: number[] }[] };
    const viaGateway = (await (
      await fetch(targets['gateway-v2'].url, {
        method: 'POST',
        body: predictBody,
        headers: { 'content-type': 'application/json', ...auth },
      })
    ).json()) as { probability: number };
    if (Math.abs(direct.outputs[0]!.data[0]! - viaGateway.probability) > 1e-12) {
      throw new Error(
        `bench/gateway-v2: the gateway answered ${viaGateway.probability}, MLServer ${direct.outputs[0]!.data[0]}`,
      );
    }

    const loadavgAtStart = os.loadavg().map((x) => round(x));
    const runs = Object.fromEntries(SIDES.map((s) => [s, [] as RunFigures[]])) as Record<
      SideName,
      RunFigures[]
    >;
    for (let r = 0; r < RUNS; r++) {
      for (const side of SIDES) {
        await load(targets[side], { seconds: WARMUP_S });
        const fixedRate = await paced(targets[side]);
        const autocannonQuota = await load(targets[side], { seconds: DURATION_S, rate: RATE });
        const saturation = await load(targets[side], { seconds: DURATION_S });
        runs[side].push({ fixedRate, autocannonQuota, saturation });
        console.error(
          `bench/gateway-v2: ${side} run ${r + 1}: paced ${RATE}/s p50 ${fixedRate.latencyMs.p50} p99 ${fixedRate.latencyMs.p99} ms; autocannon quota p99 ${autocannonQuota.latencyMs.p99} ms; saturation ${saturation.requestsPerSecond}/s`,
        );
      }
    }
    const summary = (side: SideName) => ({
      fixedRateP50Ms: median(runs[side].map((x) => x.fixedRate.latencyMs.p50)),
      fixedRateP99Ms: median(runs[side].map((x) => x.fixedRate.latencyMs.p99)),
      autocannonQuotaP99Ms: median(runs[side].map((x) => x.autocannonQuota.latencyMs.p99)),
      saturationRequestsPerSecond: median(runs[side].map((x) => x.saturation.requestsPerSecond)),
      errors: runs[side].reduce(
        (n, x) =>
          n + x.fixedRate.errors + x.fixedRate.non2xx + x.autocannonQuota.errors + x.saturation.errors,
        0,
      ),
    });
    const s = Object.fromEntries(SIDES.map((side) => [side, summary(side)])) as Record<
      SideName,
      ReturnType<typeof summary>
    >;
    const report = {
      bench: 'gateway-v2',
      at: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.cpus().length,
        memoryGB: round(os.totalmem() / 2 ** 30),
      },
      node: process.version,
      loadavg: { atStart: loadavgAtStart, atEnd: os.loadavg().map((x) => round(x)) },
      setup: `MLServer 1.7.1 with ctloop's runtime (one process, parallel_workers 0) and npm run gateway on Postgres, all on loopback; per side a ${WARMUP_S} s warm-up at saturation (autocannon in the bench process, ${CONNECTIONS} connections); ${DURATION_S} s at ${RATE}/s offered, evenly spaced and open loop, latency from when each request was due (bench/lib/paced-load.ts, its own process, up to ${CONNECTIONS} connections, after 1 s settling) = fixedRate; ${DURATION_S} s of autocannon's overallRate ${RATE} (a per-second quota per connection: a burst at the start of each second) = autocannonQuota, for comparison with earlier results; ${DURATION_S} s at saturation (autocannon); sides alternate, ${RUNS} runs each; CPU per request counts the gateway and MLServer processes a side uses`,
      runs,
      summary: s,
      comparison: {
        gatewayAddsToMlserverP50Ms: round(s['gateway-v2'].fixedRateP50Ms - s.mlserver.fixedRateP50Ms),
        gatewayAddsToMlserverP99Ms: round(s['gateway-v2'].fixedRateP99Ms - s.mlserver.fixedRateP99Ms),
        v2OverBuiltinP50Ms: round(s['gateway-v2'].fixedRateP50Ms - s['gateway-builtin'].fixedRateP50Ms),
        v2OverBuiltinP99Ms: round(s['gateway-v2'].fixedRateP99Ms - s['gateway-builtin'].fixedRateP99Ms),
        throughputOfMlserverDirect: round(
          s['gateway-v2'].saturationRequestsPerSecond / s.mlserver.saturationRequestsPerSecond,
        ),
      },
      goals: {
        zeroErrors: { goal: '0 errors on every side', met: SIDES.every((side) => s[side].errors === 0) },
        addedP99: {
          goal: `the gateway adds at most 5 ms to MLServer's p99 at ${RATE}/s (#16's added-latency goal applied to the forwarded path)`,
          met: s['gateway-v2'].fixedRateP99Ms - s.mlserver.fixedRateP99Ms <= 5,
        },
      },
    };
    console.log(JSON.stringify(report));
  } finally {
    await gateway?.stop();
    await control.close();
    await mlserver.stop();
  }
}

await main();
