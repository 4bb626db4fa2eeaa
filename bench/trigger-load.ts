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
import { modelWorkflowId } from '../workflows/messages';
import { startControlStack } from './lib/control-stack';
import { runPacedLoad } from './lib/paced-load';
import {
  cpuMs,
  machineCpuTicks,
  type ServerProcess,
  startServerProcess,
  stolenPercent,
} from './lib/processes';
import { histogramDelta, scrapeHistogram, summarizeHistogram } from './lib/sdk-metrics';

/**
 * `npm run bench:triggers`: the trigger endpoint under load, on loopback.
 * The API (api/server.ts) and a control worker run as their own processes
 * against a Temporal dev server and Postgres; this process sends
 * `POST /v1/models/:model/triggers` at a fixed rate, evenly spaced and open
 * loop (bench/lib/paced-load.ts: a late request is timed from when it was
 * due). The same rate as autocannon's `overallRate` (a per-second quota per
 * connection, so a burst of `--connections` triggers at the start of every
 * second) follows, reported apart, because earlier results used it. Most
 * requests carry a fresh dedup key; every tenth repeats a
 * key sent 45 requests before (answered 200 `deduplicated`). No training
 * worker runs, so the first trigger's run stays in training and every later
 * trigger takes the path a storm takes while a run is in progress: recorded,
 * then queued or coalesced by the model's workflow. A warm-up at the same
 * rate comes first and is reported apart (its latency, errors and fates): it
 * starts the model's workflow and lets the three processes compile their hot
 * paths, so the measured minute is the steady state of a storm.
 *
 * Two idle phases come before the load, in the same run: one trigger at a
 * time to the same model (the update's own latency, joined or deduplicated:
 * the goal is a p99 under load at most twice its p99), and the first trigger
 * of each of `--started` fresh models (the `started` path: an update with
 * start of the model's workflow, which starts a run).
 *
 *   npx tsx bench/trigger-load.ts [--rate 100] [--duration 60] [--warmup 5] [--connections 10] [--models 1]
 *                                 [--idle 1000] [--started 50]
 *
 * The control worker serves its Temporal SDK metrics (CTLOOP_WORKER_METRICS),
 * read before and after each phase: how much of an update is the worker's own
 * workflow task (`controlWorkerTasks`) and how much is everything else.
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
/** Triggers sent one at a time to an idle system, to time a single update (1,000, so that its p99 is not one or two samples). */
const IDLE_TRIGGERS = option('idle', 1000);
/** Fresh models, each sent its first trigger (the `started` path), one at a time. */
const STARTED_MODELS = option('started', 50, { zero: true });
/** Milliseconds between the idle phases' triggers. */
const IDLE_GAP_MS = 20;
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

/** Latency quantiles (R type 7 on the sorted sample), in milliseconds to 0.1. */
function quantiles(ms: readonly number[]) {
  const sorted = [...ms].sort((a, b) => a - b);
  const q = (p: number) => {
    const h = (sorted.length - 1) * p;
    const lo = Math.floor(h);
    const value = sorted[lo]! + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? 0) - sorted[lo]!);
    return Math.round(value * 10) / 10;
  };
  return { n: sorted.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) };
}

/**
 * Triggers one at a time (each answered before the next is sent, `IDLE_GAP_MS` apart):
 * each one's latency and fate.
 */
async function oneAtATime(url: string, requests: readonly { path: string; body: string }[], token: string) {
  const latencies: number[] = [];
  const fates: Record<string, number> = {};
  let errors = 0;
  for (const request of requests) {
    const began = performance.now();
    const res = await fetch(`${url}${request.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: request.body,
    });
    const body = (await res.json().catch(() => ({}))) as { fate?: string };
    latencies.push(performance.now() - began);
    if (!res.ok) errors += 1;
    const fate = body.fate ?? `http-${res.status}`;
    fates[fate] = (fates[fate] ?? 0) + 1;
    await new Promise((r) => setTimeout(r, IDLE_GAP_MS));
  }
  return { latencyMs: quantiles(latencies), errors, fates };
}

/** The control worker's own time per model-workflow task and the tasks' wait for it, from its SDK metrics. */
async function workerTaskReading(metricsUrl: string, taskQueue: string) {
  return {
    execution: await scrapeHistogram(metricsUrl, 'temporal_workflow_task_execution_latency', {
      task_queue: taskQueue,
      workflow_type: 'modelWorkflow',
    }),
    scheduleToStart: await scrapeHistogram(metricsUrl, 'temporal_workflow_task_schedule_to_start_latency', {
      task_queue: taskQueue,
    }),
  };
}
type WorkerTaskReading = Awaited<ReturnType<typeof workerTaskReading>>;

function workerTaskPhase(before: WorkerTaskReading, after: WorkerTaskReading) {
  return {
    executionMs: summarizeHistogram(histogramDelta(before.execution, after.execution)),
    scheduleToStartMs: summarizeHistogram(histogramDelta(before.scheduleToStart, after.scheduleToStart)),
  };
}

async function main() {
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const control = await startControlStack({
    workerEnv: { CTLOOP_WORKER_METRICS: `127.0.0.1:${metricsPort}` },
  });
  const { temporal, stack, worker } = control;
  const workerTasks = () => workerTaskReading(metricsUrl, stack.taskQueues.control);
  const server = await startApiProcess(stack, await freePort());
  try {
    const api = httpApi(server.url, ADMIN_TOKEN);
    const data = await writeDataset(stack.dataDir, 'load', { rows: 500, seed: 5 });
    const models = Array.from({ length: MODELS }, (_, m) => `trigger-load-${m}`);
    for (const model of models) await registerModel(api, model, data, fastPolicy());
    const fresh = Array.from({ length: STARTED_MODELS }, (_, m) => `trigger-start-${m}`);
    for (const model of fresh) await registerModel(api, model, data, fastPolicy());

    const headers = { 'content-type': 'application/json', authorization: `Bearer ${LOAD_TOKEN}` };
    // Where the CPU goes during the load, per request answered (Postgres is shared, so not counted).
    const processes = {
      api: server.pid,
      controlWorker: worker.pid,
      temporalServer: temporal.pid,
      loadGenerator: process.pid,
    };
    let sent = 0;
    /** Counts an answer's fate, and keeps the first answer of each refused kind. */
    const countFate = (
      status: number,
      body: string,
      fates: Record<string, number>,
      refusals: Record<string, string>,
    ) => {
      let fate = `http-${status}`;
      try {
        fate = (JSON.parse(body) as { fate?: string }).fate ?? fate;
      } catch {
        // not JSON: counted by status
      }
      fates[fate] = (fates[fate] ?? 0) + 1;
      if (status >= 300) refusals[`http-${status}`] ??= body.slice(0, 500);
    };
    /** The fixed-rate load of `seconds`, evenly spaced, counting every answer's fate. */
    const load = (seconds: number, fates: Record<string, number>, refusals: Record<string, string>) =>
      runPacedLoad({
        origin: server.url,
        headers,
        rate: RATE,
        seconds,
        connections: CONNECTIONS,
        settleSeconds: 0,
        timeoutSeconds: 10,
        request: () => triggerRequest(sent++, models),
        onResponse: (status, body) => countFate(status, body, fates, refusals),
      });
    /** The same rate as autocannon's per-second quota per connection (bursts), for earlier results. */
    const quotaLoad = (seconds: number, fates: Record<string, number>, refusals: Record<string, string>) =>
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
            onResponse: (status, body) => countFate(status, body, fates, refusals),
          },
        ],
      });

    // Warm-up at the same rate, not measured: the model workflow is started, the processes' JIT
    // has compiled the hot paths and the connection pools are full, as in a running deployment.
    const warmupFates: Record<string, number> = {};
    const warmup = WARMUP_S > 0 ? await load(WARMUP_S, warmupFates, {}) : null;

    // Idle: one trigger at a time to the loaded model (a run in progress: joined, or deduplicated),
    // then the first trigger of each fresh model (started).
    await new Promise((r) => setTimeout(r, 2_000));
    const idleTasks = await workerTasks();
    const idleTicks = machineCpuTicks();
    const idle = await oneAtATime(
      server.url,
      Array.from({ length: IDLE_TRIGGERS }, () => triggerRequest(sent++, models)),
      LOAD_TOKEN,
    );
    const idleStolen = stolenPercent(idleTicks, machineCpuTicks());
    const idleTasksAfter = await workerTasks();
    const started =
      fresh.length === 0
        ? null
        : await oneAtATime(
            server.url,
            fresh.map((model, i) => ({
              path: `/v1/models/${model}/triggers`,
              body: JSON.stringify({ reason: 'drift', dedupKey: `first-${i}` }),
            })),
            LOAD_TOKEN,
          );
    await new Promise((r) => setTimeout(r, 2_000));

    const executionsBefore = await executionsOf(stack, models);
    const loadStartedAt = Date.now();
    const cpuBefore = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, cpuMs(pid)]));
    const loadTasks = await workerTasks();
    const loadTicks = machineCpuTicks();
    const fates: Record<string, number> = {};
    const refusals: Record<string, string> = {};
    const result = await load(DURATION_S, fates, refusals);
    const loadEndedAt = Date.now();
    const loadStolen = stolenPercent(loadTicks, machineCpuTicks());
    const loadTasksAfter = await workerTasks();
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
    const executions = (await executionsOf(stack, models)) - executionsBefore;
    const continuedAsNew = (await executionStarts(stack, models)).filter((e) => e.startedAt > loadStartedAt);
    const updates = await updatesBetween(stack, models, loadStartedAt, loadEndedAt);
    const round = (x: number) => Math.round(x * 100) / 100;
    // Of the slowest 1 %, those due in the second of a hand-over or the one either side of it.
    const handOverSeconds = new Set(
      continuedAsNew.flatMap((e) => {
        const at = Math.floor((e.startedAt - loadStartedAt) / 1000);
        return [at - 1, at, at + 1];
      }),
    );
    const tailNearHandOvers = result.slowestHundredth.filter((r) => handOverSeconds.has(r.second)).length;
    const ratio = idle.latencyMs.p99 > 0 ? round(result.latencyMs.p99 / idle.latencyMs.p99) : null;
    const synchronous = Object.keys(fates).every((f) => ANSWERED_FATES.has(f));

    const quotaFates: Record<string, number> = {};
    const quotaRefusals: Record<string, string> = {};
    const quota = await quotaLoad(DURATION_S, quotaFates, quotaRefusals);
    const report = {
      bench: 'trigger-load',
      at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, load average ${os.loadavg().map(round).join(' ')} at the end`,
      setup:
        'API and control worker as separate processes; Temporal dev server; Postgres; the load from the bench process on loopback, evenly spaced and open loop (bench/lib/paced-load.ts), then the same rate as autocannon overallRate (autocannonQuota)',
      targetRate: RATE,
      durationSeconds: DURATION_S,
      warmup: {
        seconds: WARMUP_S,
        latencyMs: warmup && {
          p50: warmup.latencyMs.p50,
          p99: warmup.latencyMs.p99,
          max: warmup.latencyMs.max,
        },
        errors: warmup ? warmup.errors + warmup.non2xx : 0,
        fates: warmupFates,
      },
      connections: CONNECTIONS,
      models: MODELS,
      requests: { sent: result.sent, answered },
      latencyMs: result.latencyMs,
      sendLagMs: result.sendLagMs,
      slowestSeconds: result.slowestSeconds,
      idle: { ...idle, note: 'one trigger at a time to the same model, a run in progress' },
      started: started && {
        ...started,
        note: 'the first trigger of each of fresh models: update with start',
      },
      p99RatioToIdle: ratio,
      goal: {
        p99RatioToIdle: 2,
        errors: 0,
        everyFateSynchronous: true,
        met:
          ratio !== null &&
          ratio <= 2 &&
          result.errors === 0 &&
          result.non2xx === 0 &&
          idle.errors === 0 &&
          (started?.errors ?? 0) === 0 &&
          synchronous,
      },
      everyFateSynchronous: synchronous,
      updatesDuringLoad: {
        n: updates,
        triggersPerUpdate: updates > 0 ? round(answered / updates) : null,
        note: 'trigger batches the model workflows accepted during the measured load (each one update, one workflow task)',
      },
      modelWorkflowExecutionsDuringLoad: executions,
      slowestHundredthNearHandOvers: {
        n: tailNearHandOvers,
        of: result.slowestHundredth.length,
        secondsNear: [...handOverSeconds].filter((s) => s >= 0 && s < DURATION_S).length,
        note: "how many of the slowest 1 % of the measured triggers were due within a second of a hand-over (continue-as-new), against how many of the load's seconds are that close to one",
      },
      continuedAsNewAtS: {
        seconds: continuedAsNew.map((e) => Math.round((e.startedAt - loadStartedAt) / 100) / 10),
        carriedBytes: continuedAsNew.map((e) => e.inputBytes),
        note: "when each execution of the models' workflows that began during the measured load started, in seconds from the load's start (settling included), and the size of the state it was handed (its input); compare latencyMs.slowestSeconds, counted from the end of settling",
      },
      errors: result.errors,
      non2xx: result.non2xx,
      throughput: { requestsPerSecond: result.requestsPerSecond },
      fates,
      refusals,
      cpuMsPerRequest,
      controlWorkerTasks: {
        idle: workerTaskPhase(idleTasks, idleTasksAfter),
        load: workerTaskPhase(loadTasks, loadTasksAfter),
        note: "the control worker's own share of each trigger's update, from its Temporal SDK metrics (CTLOOP_WORKER_METRICS): executionMs is the model workflow's tasks from reaching the worker to their completion being sent (temporal_workflow_task_execution_latency), scheduleToStartMs the workflow tasks' wait for the worker; quantiles are the upper bounds of the buckets holding them; the rest of an update's time is the API, loopback and the Temporal server",
      },
      stolenCpuPercent: {
        idle: idleStolen,
        load: loadStolen,
        note: "the share of the machine's CPU time the hypervisor gave to other guests during each measured phase (/proc/stat steal): time this VM's processes wanted and did not get; a phase that lost more ran slower, so compare runs with this in view",
      },
      triggersStored: stored?.n ?? 0,
      autocannonQuota: {
        note: `autocannon overallRate ${RATE} over ${CONNECTIONS} connections: each connection sends its share of a second as fast as it can, then waits for the next second (bursts); after the measured load, not counted in triggersStored`,
        latencyMs: {
          p50: quota.latency.p50,
          p90: quota.latency.p90,
          p99: quota.latency.p99,
          max: quota.latency.max,
        },
        p99RatioToIdle: idle.latencyMs.p99 > 0 ? round(quota.latency.p99 / idle.latencyMs.p99) : null,
        errors: quota.errors + quota.non2xx + quota.timeouts,
        fates: quotaFates,
        refusals: quotaRefusals,
      },
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/trigger-load.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report));
  } finally {
    await server.stop();
    await control.close();
  }
}

/** Fates a trigger's answer may carry: the decision itself, never a later one. */
const ANSWERED_FATES: ReadonlySet<string> = new Set([
  'started',
  'queued',
  'joined',
  'held',
  'deduplicated',
  'suppressed',
]);

/**
 * When each execution of the models' workflows started (ms since the epoch)
 * and the size of the state it was handed, oldest first.
 */
async function executionStarts(
  stack: Stack,
  models: readonly string[],
): Promise<{ startedAt: number; inputBytes: number }[]> {
  const starts: { startedAt: number; inputBytes: number }[] = [];
  for (const model of models) {
    for await (const w of stack.client.workflow.list({ query: `WorkflowId = '${modelWorkflowId(model)}'` })) {
      // The first page of one event: the start, with the input (the carried state).
      const page = await stack.client.workflowService.getWorkflowExecutionHistory({
        namespace: stack.client.options.namespace,
        execution: { workflowId: w.workflowId, runId: w.runId },
        maximumPageSize: 1,
      });
      const input = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input;
      starts.push({ startedAt: w.startTime.getTime(), inputBytes: input?.payloads?.[0]?.data?.length ?? 0 });
    }
  }
  return starts.sort((a, b) => a.startedAt - b.startedAt);
}

/** Updates the models' workflows accepted between `from` and `to` (ms since the epoch), over all their executions. */
async function updatesBetween(
  stack: Stack,
  models: readonly string[],
  from: number,
  to: number,
): Promise<number> {
  let n = 0;
  for (const model of models) {
    for await (const w of stack.client.workflow.list({ query: `WorkflowId = '${modelWorkflowId(model)}'` })) {
      const history = await stack.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      for (const e of history.events ?? []) {
        const at = Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
        if (e.workflowExecutionUpdateAcceptedEventAttributes && at >= from && at <= to) n += 1;
      }
    }
  }
  return n;
}

/** Executions of the models' workflows so far (each continue-as-new adds one). */
async function executionsOf(stack: Stack, models: readonly string[]): Promise<number> {
  let n = 0;
  for (const model of models) {
    const ids = new Set<string>();
    for await (const w of stack.client.workflow.list({ query: `WorkflowId = '${modelWorkflowId(model)}'` }))
      ids.add(w.runId);
    n += ids.size;
  }
  return n;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
