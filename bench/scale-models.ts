import { readFileSync } from 'node:fs';
import os from 'node:os';
import { DEFAULT_WORKFLOW_CACHE } from '../config/env';
import {
  fastPolicy,
  getRun,
  type RunView,
  registerModel,
  trigger,
  waitForModelToLetGo,
  writeDataset,
} from '../scripts/lib/scenario';
import { startWorkerProcess } from '../test/helpers/worker-process';
import { startControlStack } from './lib/control-stack';
import { listOption, positiveOption } from './lib/options';
import { cpuMs } from './lib/processes';

/**
 * `npm run bench -- scale-models`: many models on one control worker.
 *
 * One control worker process (workflows and quick activities, its workflow
 * cache set by CTLOOP_WORKFLOW_CACHE) and one training worker process run
 * against a Temporal dev server and Postgres. Models are registered through
 * the API (in this process), each with its long-lived model workflow and a
 * nightly schedule, growing 10 → 100 → 1,000. At each size, after the
 * registrations settle:
 *  - the control worker's resident memory (VmRSS) and CPU over an idle
 *    window (no run in progress);
 *  - trigger latency: manual triggers to models that have not run yet (fate
 *    `started`, its run trains and is promoted: approval off) and the same
 *    trigger again (`deduplicated`), one at a time.
 * Then, at the largest size, 100 models get a champion and a second run that
 * stays in its canary's first step (no traffic reaches it; the canary looks
 * every 5 s, the policy's default), and the same figures are taken with the
 * 100 canaries running.
 *
 *   npx tsx bench/scale-models.ts [--models 10,100,1000] [--canary 100] [--cache 250] [--idle 30] [--probes 20] [--heap MB]
 *
 * Prints the JSON result (`npm run bench` writes it to bench/results/scale-models.json).
 */
const BENCH = 'bench/scale-models';
const SIZES = listOption(BENCH, 'models', ['10', '100', '1000'] as const).map(Number);
const CANARY_RUNS = positiveOption(BENCH, 'canary', 100);
const CACHE = positiveOption(BENCH, 'cache', DEFAULT_WORKFLOW_CACHE);
/** The control worker's V8 heap limit in MB (`NODE_OPTIONS=--max-old-space-size`); Node's default when absent. */
const HEAP_MB = process.argv.includes('--heap') ? positiveOption(BENCH, 'heap', 0) : null;
const IDLE_S = positiveOption(BENCH, 'idle', 30);
const PROBES = positiveOption(BENCH, 'probes', 20);
const GOAL_RSS_MB = 500;
const REGISTER_CONCURRENCY = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Resident memory of a process in MB (VmRSS). */
function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return round(Number(line?.split(/\s+/)[1] ?? Number.NaN) / 1024);
}

function percentiles(xs: readonly number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN);
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

/** Runs `fn` over `items`, `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const control = await startControlStack({
  workerEnv: {
    CTLOOP_WORKFLOW_CACHE: String(CACHE),
    ...(HEAP_MB === null ? {} : { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` }),
  },
});
const { stack } = control;
const trainer = await startWorkerProcess(stack, { script: 'workers/train.ts' });
const api = stack.api();
const baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 600, seed: 41 });
const drifted = await writeDataset(stack.dataDir, 'drifted', { rows: 600, seed: 42, shift: 1.5 });
const policy = fastPolicy({
  approval: { required: false },
  training: { params: { epochs: 40, learningRate: 0.5, l2: 0.001, seed: 7 }, checkpointEvery: 20 },
  // A canary that stays in its first step: it never sees enough requests, and its step lasts a day.
  canary: { steps: [10, 50, 100], minRequests: 1_000_000, minLabelled: 1_000, stepMaxSeconds: 86_400 },
});
const name = (i: number) => `scale-${String(i).padStart(4, '0')}`;
const workerPid = control.worker.pid;

let registered = 0;
/** Models whose first run was started (by a probe or for a champion). */
const triggered = new Set<string>();

/** Waits (polling each run once a second) until every run satisfies `done`; throws on a run that ends otherwise. */
async function waitForRuns(
  runs: readonly { model: string; runId: string }[],
  done: (run: RunView) => boolean,
  what: string,
  timeoutMs = 900_000,
) {
  let waiting = [...runs];
  const deadline = Date.now() + timeoutMs;
  while (waiting.length > 0) {
    if (Date.now() > deadline) throw new Error(`${BENCH}: ${waiting.length} runs not ${what} in time`);
    // A run just started may not be recorded yet (404): it is still to come.
    const views = await Promise.all(
      waiting.map(async (r) => {
        const res = await api('GET', `/v1/models/${r.model}/runs/${r.runId}`);
        return res.status === 200 ? (res.body as RunView) : null;
      }),
    );
    const failed = views.find((v) => v !== null && !done(v) && v.outcome !== null);
    if (failed)
      throw new Error(`${BENCH}: run ended ${failed.outcome} (${failed.outcomeReason}), not ${what}`);
    waiting = waiting.filter((_, i) => views[i] === null || !done(views[i]!));
    if (waiting.length > 0) await sleep(1_000);
  }
}

/** Registers models up to `size`, each with a nightly schedule; returns the seconds it took. */
async function growTo(size: number): Promise<number> {
  const started = performance.now();
  const names = Array.from({ length: size - registered }, (_, k) => name(registered + k));
  await eachLimited(names, REGISTER_CONCURRENCY, async (model) => {
    await registerModel(api, model, baseline, policy);
    const schedule = await api('POST', `/v1/models/${model}/schedules`, {
      name: 'nightly',
      cron: '0 3 * * *',
      jitterSeconds: 3_600,
    });
    if (schedule.status !== 201) throw new Error(`${BENCH}: schedule of ${model}: ${schedule.status}`);
  });
  registered = size;
  return round((performance.now() - started) / 1000);
}

/** The control worker over an idle window: CPU (share of one core) and resident memory. */
async function idleWindow() {
  const cpu0 = cpuMs(workerPid)!;
  const t0 = performance.now();
  let peak = rssMb(workerPid);
  for (let s = 0; s < IDLE_S; s++) {
    await sleep(1_000);
    peak = Math.max(peak, rssMb(workerPid));
  }
  const cpu = (cpuMs(workerPid)! - cpu0) / (performance.now() - t0);
  return { seconds: IDLE_S, cpuCores: round(cpu, 3), rssMb: rssMb(workerPid), peakRssMb: peak };
}

/**
 * PROBES manual triggers, one at a time, each to a model that has not run yet
 * (`started`), each followed by the same trigger again (`deduplicated`); waits
 * for those runs to be promoted, so that the next window starts idle.
 */
async function probeTriggers() {
  const fresh = Array.from({ length: registered }, (_, i) => name(i))
    .filter((m) => !triggered.has(m))
    .reverse()
    .slice(0, PROBES);
  const ms: Record<string, number[]> = { started: [], deduplicated: [] };
  const runs: { model: string; runId: string }[] = [];
  for (const model of fresh) {
    for (const expected of ['started', 'deduplicated'] as const) {
      const t0 = performance.now();
      const answer = await trigger(api, model, { reason: 'manual', dedupKey: `probe-${model}` });
      const elapsed = performance.now() - t0;
      if (answer.fate !== expected) throw new Error(`${BENCH}: trigger of ${model} was ${answer.fate}`);
      ms[expected]!.push(elapsed);
      if (expected === 'started') runs.push({ model, runId: answer.runId });
    }
    triggered.add(model);
    await sleep(100);
  }
  await waitForRuns(runs, (r) => r.outcome === 'promoted', 'promoted');
  return { startedMs: percentiles(ms.started!), deduplicatedMs: percentiles(ms.deduplicated!) };
}

const machine = () => ({
  cores: os.cpus().length,
  cpu: os.cpus()[0]?.model,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  loadavg: os.loadavg().map((x) => round(x, 2)),
});

const populations: Record<string, unknown>[] = [];
let canary: Record<string, unknown> | null = null;
try {
  for (const size of SIZES) {
    const registerSeconds = await growTo(size);
    await sleep(5_000);
    const idle = await idleWindow();
    const triggers = await probeTriggers();
    populations.push({ models: size, registerSeconds, idle, triggers, loadavg: machine().loadavg });
    console.error(`${BENCH}: ${size} models: ${JSON.stringify(populations.at(-1))}`);
  }

  // 100 runs in canary at once: each model a champion (its first run), then a candidate on shifted data.
  const models = Array.from({ length: Math.min(CANARY_RUNS, registered) }, (_, i) => name(i));
  const needChampion = models.filter((m) => !triggered.has(m));
  const firsts: { model: string; runId: string }[] = [];
  for (const model of needChampion) {
    firsts.push({ model, runId: (await trigger(api, model, { reason: 'manual' })).runId });
    triggered.add(model);
  }
  await waitForRuns(firsts, (r) => r.outcome === 'promoted', 'promoted');
  // Until each model's workflow has let its finished run go, a trigger would be held for a follow-up.
  for (const r of firsts) await waitForModelToLetGo(api, r.model, r.runId);
  const t0 = performance.now();
  const seconds: { model: string; runId: string }[] = [];
  for (const model of models) {
    const answer = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });
    if (answer.fate !== 'started') throw new Error(`${BENCH}: canary trigger of ${model} was ${answer.fate}`);
    seconds.push({ model, runId: answer.runId });
  }
  await waitForRuns(seconds, (r) => r.stage === 'canary', 'in canary');
  const toCanarySeconds = round((performance.now() - t0) / 1000);
  await sleep(5_000);
  const idle = await idleWindow();
  const triggers = await probeTriggers();
  const stillInCanary = (await Promise.all(seconds.map((r) => getRun(api, r.model, r.runId)))).filter(
    (r) => r.stage === 'canary' && r.outcome === null,
  ).length;
  canary = {
    runs: models.length,
    toCanarySeconds,
    stillInCanary,
    idle,
    triggers,
    loadavg: machine().loadavg,
  };
  console.error(`${BENCH}: with ${models.length} canaries: ${JSON.stringify(canary)}`);
} finally {
  await trainer.kill('SIGTERM');
  await control.close();
}

const rssAll = [
  ...populations.map((p) => (p.idle as { peakRssMb: number }).peakRssMb),
  (canary?.idle as { peakRssMb: number } | undefined)?.peakRssMb ?? Number.NaN,
];
console.log(
  JSON.stringify({
    bench: 'scale-models',
    at: new Date().toISOString(),
    machine: machine(),
    setup:
      'Temporal dev server, Postgres, one control worker process (measured) and one training worker process; the API in the bench process; each model registered with a nightly schedule (jitter 1 h); approval off',
    workflowCache: { maxCachedWorkflows: CACHE, setting: 'CTLOOP_WORKFLOW_CACHE' },
    heapLimitMb: HEAP_MB === null ? 'Node default' : HEAP_MB,
    populations,
    canary,
    goal: {
      rssMb: `control worker ≤ ${GOAL_RSS_MB} MB with ${SIZES.at(-1)} models and ${CANARY_RUNS} runs in canary`,
      peakRssMb: Math.max(...rssAll),
      met: Math.max(...rssAll) <= GOAL_RSS_MB,
    },
  }),
);
process.exit(0);
