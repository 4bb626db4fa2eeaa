import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import { type Api, httpApi } from '../api/client';
import { runs } from '../db/schema';
import type { PolicyInput } from '../domain/policy';
import { FEATURES, fastPolicy, registerModel, trigger, writeDataset } from '../scripts/lib/scenario';
import { freePort, startDevServer } from '../scripts/temporal-dev-server';
import { ensurePostgres } from '../test/helpers/postgres';
import { type Stack, startStackWith } from '../test/helpers/stack';
import { stackProcessEnv, startWorkerProcess, type WorkerProcess } from '../test/helpers/worker-process';
import { workflowsPath } from '../workers/runtime';
import { runWorkflowId } from '../workflows/messages';
import { startServerProcess } from './lib/processes';

/**
 * `npm run bench -- vs-prefect`: ctloop's loop against the seeds' reference
 * pipeline as a Prefect 3 flow (bench/prefect/ct_flow.py), in one run, on the
 * same data and the same trainer program (`python-numpy`,
 * trainers/python/numpy_trainer.py), written to bench/results/vs-prefect.json.
 *
 * Each side as it runs in production, on this machine: ctloop's API
 * (api/server.ts), a control worker and two training workers as processes,
 * against a Temporal dev server and Postgres; Prefect's server (SQLite, its
 * own PREFECT_HOME) and the flow served as a deployment by a long-lived runner
 * (`flow.serve`, polling every second instead of its default ten), which
 * starts each flow run as a process. A loop is triggered over each side's
 * HTTP API and ends when that side records the run's end (ctloop: the run's
 * `endedAt`; Prefect: the flow run's `end_time`). Both sides run at most two
 * trainers at once (two training workers; a Prefect global concurrency limit
 * of 2 around the trainer). Each loop is a new model's first run: approval is
 * off, and with no champion ctloop runs no canary and no bake; the flow
 * promotes as the seeds' flow does without a champion.
 *
 *   (a) one loop end to end, ROUNDS times per side, alternating which side goes
 *       first, after one warm-up loop per side (reported apart);
 *   (b) 20 loops for 20 models submitted at once, per side;
 *   (c) orchestration overhead = total − the trainer's own time, per loop. The
 *       trainer's time is measured identically on both sides, inside the trainer
 *       process (bench/prefect/trainer_clock/sitecustomize.py: process start to
 *       exit). For (b): trainer-slot time not spent training, per loop
 *       ((2 × makespan − Σ trainer time) / 20). Also against the trainer run
 *       alone by the bench (once per round of (a)), which charges a side for
 *       slowing its trainer down; and, for ctloop, where a loop's time goes
 *       (its run workflow's history: activities and the time between them);
 *   (d) kill -9 mid-training: ctloop's training worker (the other one resumes
 *       from the last checkpoint); Prefect's flow-run process (the runner is
 *       left running), and separately the runner with its flow-run process (a
 *       lost machine) followed by a fresh runner; each Prefect run is observed
 *       for OBSERVE_S seconds.
 *
 *   BENCH_ROUNDS (5), BENCH_BATCH (20), BENCH_OBSERVE_S (90)
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = Number(process.env.BENCH_BATCH ?? 20);
const OBSERVE_S = Number(process.env.BENCH_OBSERVE_S ?? 90);
const TRAINER_SLOTS = 2;
const GOAL_RATIO = 0.1;
const POLL_MS = 25;
const ROWS = 5_000;
const PARAMS = { epochs: 1_500, learningRate: 0.5, l2: 0.001, seed: 7 };
/** The kill runs' training: long enough (about 15 s) to kill in the middle. */
const SLOW_PARAMS = { ...PARAMS, stepDelayMs: 10 };
const CHECKPOINT_EVERY = 100;
const HEARTBEAT_TIMEOUT_S = 5;
const MIN_ACCURACY = 0.7;
const HOLDOUT = 0.2;
const DEPLOYMENT = 'ct';
const FLOW = 'continuous-training-pipeline';

const root = process.cwd();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;
/** Milliseconds as seconds, to 0.01 s. */
const sec = (ms: number) => Number((ms / 1000).toFixed(2));
const loadavg = () => os.loadavg().map((l) => Number(l.toFixed(2)));

interface TrainerClock {
  readonly pid: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly outputDir: string;
}
/** Lines the trainer processes wrote at exit (one file per side). */
function readClock(file: string): TrainerClock[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as TrainerClock);
  } catch {
    return [];
  }
}

interface Loop {
  readonly model: string;
  readonly id: string;
  /** When the bench sent the trigger (epoch ms). */
  readonly startMs: number;
  readonly totalMs: number;
  readonly trainerMs: number;
  readonly overheadMs: number;
  readonly outcome: string;
}

function loopResult(
  model: string,
  id: string,
  startMs: number,
  endMs: number,
  outcome: string,
  trainers: TrainerClock[],
): Loop {
  const trainerMs = trainers.reduce((s, t) => s + (t.endMs - t.startMs), 0);
  if (trainers.length !== 1) throw new Error(`${model}: ${trainers.length} trainer processes, expected 1`);
  return {
    model,
    id,
    startMs,
    totalMs: round1(endMs - startMs),
    trainerMs: round1(trainerMs),
    overheadMs: round1(endMs - startMs - trainerMs),
    outcome,
  };
}

// ---------------------------------------------------------------- ctloop

interface CtloopSide {
  readonly stack: Stack;
  readonly api: Api;
  readonly clock: string;
  readonly trainWorkers: WorkerProcess[];
  startTrainWorker(): Promise<WorkerProcess>;
  close(): Promise<void>;
}

async function startCtloop(trainerPython: string, clockDir: string, clock: string): Promise<CtloopSide> {
  const temporal = await startDevServer({ headless: true });
  const bundlePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'ctloop-bench-')), 'workflows.js');
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath, logger: quiet })).code);
  const stack = await startStackWith(
    {
      temporalAddress: temporal.address,
      postgresUrl: process.env.DATABASE_URL ?? ensurePostgres(),
      workflowBundlePath: bundlePath,
      trainerPython,
    },
    { workers: false },
  );
  const server = await startServerProcess({
    script: 'api/server.ts',
    port: await freePort(),
    env: { ...stackProcessEnv(stack), LOG_LEVEL: 'warn' },
  });
  const control = await startWorkerProcess(stack, { script: 'workers/control.ts' });
  const trainEnv = {
    CTLOOP_TRAINER_PYTHON: trainerPython,
    PYTHONPATH: clockDir,
    CTLOOP_BENCH_TRAINER_LOG: clock,
  };
  const startTrainWorker = () => startWorkerProcess(stack, { script: 'workers/train.ts', env: trainEnv });
  const trainWorkers: WorkerProcess[] = [];
  for (let i = 0; i < TRAINER_SLOTS; i++) trainWorkers.push(await startTrainWorker());
  return {
    stack,
    api: httpApi(server.url, stack.tokens.admin),
    clock,
    trainWorkers,
    startTrainWorker,
    async close() {
      for (const w of trainWorkers) await w.kill('SIGKILL');
      await control.kill('SIGTERM');
      await server.stop();
      await stack.close();
      await temporal.stop();
    },
  };
}

function ctloopPolicy(params: Record<string, unknown>): PolicyInput {
  return fastPolicy({
    approval: { required: false, timeoutSeconds: 60 },
    evaluation: { minImprovement: 0.01, minAccuracy: MIN_ACCURACY },
    training: {
      trainer: 'python-numpy',
      params,
      checkpointEvery: CHECKPOINT_EVERY,
      holdoutFraction: HOLDOUT,
      heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S,
    },
  });
}

// biome-ignore lint/suspicious/noExplicitAny: the run view's stage reports are free-form JSON
type RunBody = Record<string, any>;

/** The run's view; before its workflow has begun the run (404), an empty one. */
async function ctloopRun(api: Api, model: string, runId: string): Promise<RunBody> {
  const res = await api('GET', `/v1/models/${model}/runs/${runId}`);
  if (res.status === 404) return {};
  if (res.status !== 200) throw new Error(`GET run ${runId}: ${res.status}`);
  return res.body as RunBody;
}

/** Triggers the models' runs at once; resolves with each loop once all have ended. */
async function ctloopLoops(side: CtloopSide, models: readonly string[], pollMs: number): Promise<Loop[]> {
  const started = Date.now();
  const triggered = await Promise.all(
    models.map(async (model) => ({
      model,
      runId: (await trigger(side.api, model, { reason: 'manual' })).runId,
    })),
  );
  const ended = new Map<string, RunBody>();
  while (ended.size < triggered.length) {
    for (const t of triggered) {
      if (ended.has(t.runId)) continue;
      const run = await ctloopRun(side.api, t.model, t.runId);
      if (run.outcome) ended.set(t.runId, run);
    }
    if (ended.size < triggered.length) await sleep(pollMs);
  }
  const clock = readClock(side.clock);
  return triggered.map(({ model, runId }) => {
    const run = ended.get(runId)!;
    const endMs = Date.parse(run.endedAt);
    return loopResult(
      model,
      runId,
      started,
      endMs,
      run.outcome,
      clock.filter((c) => c.outputDir.includes(`/${runId}/`)),
    );
  });
}

/**
 * Where a ctloop loop's time goes, from its run workflow's history (Temporal's event times): from
 * the trigger to the run workflow's start (API, trigger record, the model workflow, the child
 * start), then each activity from scheduled to closed, and what is left (workflow tasks between them,
 * with the local activities that run inside them).
 */
async function ctloopBreakdown(side: CtloopSide, loop: Loop) {
  const history = await side.stack.client.workflow
    .getHandle(runWorkflowId(loop.model, loop.id))
    .fetchHistory();
  const events = history.events ?? [];
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(String(t?.seconds ?? 0)) * 1000 + (t?.nanos ?? 0) / 1e6;
  const scheduled = new Map<string, { name: string; at: number }>();
  const activities: { activity: string; ms: number }[] = [];
  for (const e of events) {
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched)
      scheduled.set(String(e.eventId), { name: sched.activityType?.name ?? '?', at: ms(e.eventTime) });
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (closed) {
      const s = scheduled.get(String(closed.scheduledEventId));
      if (s) activities.push({ activity: s.name, ms: round1(ms(e.eventTime) - s.at) });
    }
  }
  // Local activities (the run's bookkeeping) run inside workflow tasks: a marker each, no scheduling.
  const localActivities = events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
      try {
        return (
          (JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { activity_type?: string })
            .activity_type ?? '?'
        );
      } catch {
        return '?';
      }
    });
  const started = ms(events[0]?.eventTime);
  const runWorkflowMs = ms(events.at(-1)?.eventTime) - started;
  const activityMs = activities.reduce((sum, a) => sum + a.ms, 0);
  const training = activities
    .filter((a) => a.activity === 'trainCandidate')
    .reduce((sum, a) => sum + a.ms, 0);
  return {
    run: loop.id,
    triggerToRunWorkflowStartMs: round1(started - loop.startMs),
    runWorkflowMs: round1(runWorkflowMs),
    activities: activities.length,
    localActivities: localActivities.length,
    activityMs: round1(activityMs),
    betweenActivitiesMs: round1(runWorkflowMs - activityMs),
    trainCandidateMinusTrainerMs: round1(training - loop.trainerMs),
    otherActivitiesMs: round1(activityMs - training),
    perActivity: activities,
    perLocalActivity: localActivities,
  };
}

// ---------------------------------------------------------------- Prefect

interface PrefectSide {
  readonly url: string;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: string;
  readonly serverReadyMs: number;
  deploymentId: string;
  runner: ChildProcess;
  startRunner(): Promise<{ child: ChildProcess; readyMs: number }>;
  close(): Promise<void>;
}

/** A process in its own group, so that it and everything it started can be signalled together. */
function spawnGroup(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  log: string,
): ChildProcess & { output(): string } {
  const child = spawn(cmd, args, { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d) => {
    text = (text + d).slice(-200_000);
  });
  child.stderr!.on('data', (d) => {
    text = (text + d).slice(-200_000);
  });
  child.once('exit', () => writeFileSync(log, text));
  process.once('exit', () => killGroup(child, 'SIGKILL'));
  return Object.assign(child, { output: () => text });
}
function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}
const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once('exit', () => r()));

/** Answers Prefect's server gave 429/502/503 (SQLite busy) and dropped connections, retried as Prefect's own client retries them. */
const prefectRetries = { count: 0, statuses: {} as Record<string, number> };

async function prefectApi<T = RunBody>(side: { url: string }, method: string, p: string, body?: unknown) {
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${side.url}/api${p}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      // A kept-alive connection the server closed as it was reused ("other side closed").
      if (attempt >= 8) throw err;
      prefectRetries.count += 1;
      prefectRetries.statuses.connection = (prefectRetries.statuses.connection ?? 0) + 1;
      await sleep(100 * 2 ** attempt * (0.5 + Math.random()));
      continue;
    }
    const text = await res.text();
    if ([429, 502, 503].includes(res.status) && attempt < 8) {
      prefectRetries.count += 1;
      prefectRetries.statuses[res.status] = (prefectRetries.statuses[res.status] ?? 0) + 1;
      await sleep(100 * 2 ** attempt * (0.5 + Math.random()));
      continue;
    }
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }
}

async function startPrefect(python: string, clock: string, logDir: string): Promise<PrefectSide> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PREFECT_HOME: mkdtempSync(path.join(os.tmpdir(), 'prefect-home-')),
    PREFECT_API_URL: `${url}/api`,
    PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
    PREFECT_UI_ENABLED: 'false',
    PREFECT_RUNNER_POLL_FREQUENCY: '1',
  };
  const t0 = Date.now();
  const server = spawnGroup(
    python,
    ['-m', 'prefect', 'server', 'start', '--host', '127.0.0.1', '--port', String(port)],
    env,
    path.join(logDir, 'prefect-server.log'),
  );
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    if (server.exitCode !== null) throw new Error('prefect server exited during start-up');
    const ok = await fetch(`${url}/api/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('prefect server not healthy after 60 s');
  }
  const serverReadyMs = Date.now() - t0;
  const limit = await prefectApi({ url }, 'POST', '/v2/concurrency_limits/', {
    name: 'ct-trainer',
    limit: TRAINER_SLOTS,
  });
  if (limit.status >= 300)
    throw new Error(`global concurrency limit: ${limit.status} ${JSON.stringify(limit.body)}`);
  let runners = 0;
  const side: PrefectSide = {
    url,
    env,
    clock,
    serverReadyMs,
    deploymentId: '',
    runner: server,
    async startRunner() {
      const began = Date.now();
      const child = spawnGroup(
        python,
        ['bench/prefect/ct_flow.py', 'serve', DEPLOYMENT, String(BATCH)],
        env,
        path.join(logDir, `prefect-runner-${++runners}.log`),
      );
      // The runner registers the deployment, says so, then polls for its runs.
      for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
        if (child.exitCode !== null) throw new Error('prefect runner exited during start-up');
        if (!/is being served/.test(child.output())) continue;
        const dep = await prefectApi(side, 'GET', `/deployments/name/${FLOW}/${DEPLOYMENT}`);
        if (dep.status === 200 && dep.body.status === 'READY') {
          side.deploymentId = dep.body.id;
          break;
        }
        if (Date.now() > deadline) throw new Error('prefect runner: deployment not READY after 60 s');
      }
      side.runner = child;
      return { child, readyMs: Date.now() - began };
    },
    async close() {
      killGroup(side.runner, 'SIGTERM');
      killGroup(server, 'SIGTERM');
      await Promise.race([Promise.all([exited(side.runner), exited(server)]), sleep(10_000)]);
      killGroup(side.runner, 'SIGKILL');
      killGroup(server, 'SIGKILL');
    },
  };
  return side;
}

function flowConfig(
  dataUri: string,
  trainerPython: string,
  clockDir: string,
  clock: string,
  registry: string,
) {
  return (params: Record<string, unknown>) => ({
    data_uri: dataUri,
    schema: { features: FEATURES.map((name) => ({ name, min: -20, max: 20 })), label: 'label' },
    min_rows: 200,
    holdout_fraction: HOLDOUT,
    params,
    checkpoint_every: CHECKPOINT_EVERY,
    min_accuracy: MIN_ACCURACY,
    registry,
    trainer: {
      command: [trainerPython, path.join(root, 'trainers', 'python', 'numpy_trainer.py')],
      cwd: path.join(root, 'trainers', 'python'),
      clock_env: { PYTHONPATH: clockDir, CTLOOP_BENCH_TRAINER_LOG: clock },
      concurrency_limit: 'ct-trainer',
    },
  });
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED']);

async function prefectLoops(
  side: PrefectSide,
  models: readonly string[],
  config: unknown,
  pollMs: number,
): Promise<Loop[]> {
  const started = Date.now();
  const created = await Promise.all(
    models.map(async (model) => {
      const res = await prefectApi(side, 'POST', `/deployments/${side.deploymentId}/create_flow_run`, {
        parameters: { model_name: model, config },
      });
      if (res.status >= 300) throw new Error(`create_flow_run: ${res.status} ${JSON.stringify(res.body)}`);
      return { model, id: res.body.id as string };
    }),
  );
  const ended = new Map<string, RunBody>();
  while (ended.size < created.length) {
    for (const c of created) {
      if (ended.has(c.id)) continue;
      const run = (await prefectApi(side, 'GET', `/flow_runs/${c.id}`)).body;
      if (TERMINAL.has(run.state_type) && run.end_time) ended.set(c.id, run);
    }
    if (ended.size < created.length) await sleep(pollMs);
  }
  const clock = readClock(side.clock);
  return created.map(({ model, id }) => {
    const run = ended.get(id)!;
    return loopResult(
      model,
      id,
      started,
      Date.parse(run.end_time),
      run.state_type,
      clock.filter((c) => c.outputDir.includes(`/prefect-ct-${model}-`)),
    );
  });
}

// ---------------------------------------------------------------- the trainer alone

/** The training rows as both sides hand them to the trainer: the dataset less its hold-out tail. */
function writeTrainingRows(dataUri: string, file: string) {
  const [header, ...rows] = readFileSync(dataUri, 'utf8').trim().split('\n');
  const holdout = Math.ceil(rows.length * HOLDOUT * (1 - 1e-12));
  writeFileSync(file, `${[header, ...rows.slice(0, rows.length - holdout)].join('\n')}\n`);
}

/**
 * The trainer run by the bench itself, with no orchestrator, timed by the same clock: how long
 * the training takes when nothing else competes for the machine. A side's total minus this is its
 * overhead including any slowing of the trainer that the orchestrator causes.
 */
async function standaloneTrainer(trainerPython: string, clockDir: string, clock: string, trainCsv: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'standalone-trainer-'));
  mkdirSync(path.join(dir, 'checkpoints'));
  mkdirSync(path.join(dir, 'output'));
  await new Promise<void>((resolve, reject) => {
    const child = spawn(trainerPython, [path.join(root, 'trainers', 'python', 'numpy_trainer.py')], {
      cwd: path.join(root, 'trainers', 'python'),
      env: {
        ...process.env,
        CTLOOP_DATA: trainCsv,
        CTLOOP_FEATURES: JSON.stringify(FEATURES),
        CTLOOP_LABEL: 'label',
        CTLOOP_PARAMS: JSON.stringify(PARAMS),
        CTLOOP_CHECKPOINT_DIR: path.join(dir, 'checkpoints'),
        CTLOOP_CHECKPOINT_EVERY: String(CHECKPOINT_EVERY),
        CTLOOP_RESUME_FROM: '',
        CTLOOP_OUTPUT_DIR: path.join(dir, 'output'),
        CTLOOP_DEVICE: 'cpu',
        PYTHONPATH: clockDir,
        CTLOOP_BENCH_TRAINER_LOG: clock,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.resume();
    child.stderr!.resume();
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`standalone trainer exited ${code}`)),
    );
  });
  rmSync(dir, { recursive: true, force: true });
  const c = readClock(clock).find((t) => t.outputDir.startsWith(dir));
  if (!c) throw new Error('standalone trainer: no clock line');
  return round1(c.endMs - c.startMs);
}

/**
 * Where a Prefect loop's time goes, from its server's records: from the trigger to the flow run's
 * start (the runner's poll, the flow-run process starting and importing Prefect), then each task
 * run from start to end, and what is left.
 */
async function prefectBreakdown(side: PrefectSide, loop: Loop) {
  const run = (await prefectApi(side, 'GET', `/flow_runs/${loop.id}`)).body;
  const tasks = (
    await prefectApi<RunBody[]>(side, 'POST', '/task_runs/filter', { flow_runs: { id: { any_: [loop.id] } } })
  ).body;
  const started = Date.parse(run.start_time);
  const perTask = tasks
    .map((t) => ({
      task: String(t.name).replace(/-[0-9a-f]+$/, ''),
      at: Date.parse(t.start_time),
      ms: round1(Date.parse(t.end_time) - Date.parse(t.start_time)),
    }))
    .sort((a, b) => a.at - b.at)
    .map(({ task, ms }) => ({ task, ms }));
  const taskMs = perTask.reduce((sum, t) => sum + t.ms, 0);
  const flowMs = Date.parse(run.end_time) - started;
  return {
    run: loop.id,
    triggerToFlowRunStartMs: round1(started - loop.startMs),
    flowRunMs: round1(flowMs),
    taskMs: round1(taskMs),
    betweenTasksMs: round1(flowMs - taskMs),
    perTask,
  };
}

// ---------------------------------------------------------------- kill -9

/** The trainer process whose output folder contains `marker`, and its parent. */
function findTrainer(marker: string): { pid: number; ppid: number } | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('numpy_trainer.py')) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (!environ.split('\0').some((v) => v.startsWith('CTLOOP_OUTPUT_DIR=') && v.includes(marker)))
        continue;
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      return { pid: Number(entry), ppid };
    } catch {
      // the process ended while we looked
    }
  }
  return null;
}
/** Running (not a zombie: this machine's init does not reap orphans at once). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
};

async function ctloopKill(side: CtloopSide, dataUri: string) {
  const model = 'kill-ctloop';
  await registerModel(side.api, model, dataUri, ctloopPolicy(SLOW_PARAMS));
  const t0 = Date.now();
  const { runId } = await trigger(side.api, model, { reason: 'manual' });
  const progress = async () => {
    const [row] = await side.stack.database.db
      .select({ reports: runs.reports })
      .from(runs)
      .where(eq(runs.id, runId));
    return (row?.reports as RunBody | undefined)?.training as
      | { attempt: number; step: number; total: number; resumedFromStep: number | null; worker: string }
      | undefined;
  };
  let at: Awaited<ReturnType<typeof progress>>;
  for (;;) {
    at = await progress();
    if (at && at.step >= SLOW_PARAMS.epochs * 0.4) break;
    await sleep(POLL_MS);
  }
  const pid = Number(at.worker.split('/').pop());
  const victim = side.trainWorkers.findIndex((w) => w.pid === pid);
  if (victim < 0) throw new Error(`ctloop training runs in pid ${pid}, not one of the training workers`);
  const trainer = findTrainer(`/${runId}/`);
  const [dead] = side.trainWorkers.splice(victim, 1);
  await dead!.kill('SIGKILL');
  const killedAt = Date.now();
  let resumedAt: number | null = null;
  let resumed: Awaited<ReturnType<typeof progress>>;
  for (;;) {
    resumed = await progress();
    if (resumed && resumed.attempt > at.attempt && resumed.step > (resumed.resumedFromStep ?? 0)) {
      resumedAt = Date.now();
      break;
    }
    if (Date.now() - killedAt > OBSERVE_S * 1000) break;
    await sleep(POLL_MS);
  }
  let run: RunBody;
  for (;;) {
    run = await ctloopRun(side.api, model, runId);
    if (run.outcome || Date.now() - killedAt > 5 * OBSERVE_S * 1000) break;
    await sleep(100);
  }
  side.trainWorkers.push(await side.startTrainWorker());
  return {
    killed: 'the training worker process running the trainer (kill -9); the other training worker polls on',
    stepAtKill: at.step,
    totalSteps: at.total,
    trainerAliveAfterKillMs1000: trainer ? await aliveAfter(trainer.pid, 1000) : null,
    resumedFromStep: resumed?.resumedFromStep ?? null,
    secondsKillToResumedProgress: resumedAt === null ? null : sec(resumedAt - killedAt),
    heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S,
    outcome: run.outcome ?? null,
    secondsKillToOutcome: run.endedAt ? sec(Date.parse(run.endedAt) - killedAt) : null,
    secondsTotal: run.endedAt ? sec(Date.parse(run.endedAt) - t0) : null,
    attempts: run.reports?.trainingAttempts?.attempts ?? null,
    candidateVersion: run.candidateVersion ?? null,
    finished: run.outcome === 'promoted',
  };
}

async function aliveAfter(pid: number, ms: number): Promise<boolean> {
  await sleep(ms);
  return alive(pid);
}

/**
 * Prefect, kill -9 mid-training. `what`: the flow-run process alone (its runner watches it), or the
 * runner's whole process group (a lost machine), after which a fresh runner is started.
 */
async function prefectKill(side: PrefectSide, config: unknown, what: 'flow-process' | 'runner-and-flow') {
  const model = `kill-prefect-${what}`;
  const t0 = Date.now();
  const res = await prefectApi(side, 'POST', `/deployments/${side.deploymentId}/create_flow_run`, {
    parameters: { model_name: model, config },
  });
  const id = res.body.id as string;
  let trainer: { pid: number; ppid: number } | null = null;
  let trainerSeenAt = 0;
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(POLL_MS)) {
    trainer ??= findTrainer(`/prefect-ct-${model}-`);
    if (trainer && !trainerSeenAt) trainerSeenAt = Date.now();
    // Same point as ctloop's kill: about 40 % of the epochs (the trainer's own time, not counting start-up).
    if (trainer && Date.now() - trainerSeenAt > SLOW_PARAMS.epochs * SLOW_PARAMS.stepDelayMs * 0.4) break;
  }
  if (!trainer) throw new Error('prefect: no trainer process appeared');
  const flowPid = trainer.ppid;
  if (what === 'flow-process') process.kill(flowPid, 'SIGKILL');
  else killGroup(side.runner, 'SIGKILL');
  const killedAt = Date.now();
  const trainerAlive = await aliveAfter(trainer.pid, 1000);
  let restartedRunnerReadyMs: number | null = null;
  if (what === 'runner-and-flow') restartedRunnerReadyMs = (await side.startRunner()).readyMs;
  const states: { state: string; name: string; atS: number }[] = [];
  let last = '';
  let run: RunBody = {};
  for (const end = killedAt + OBSERVE_S * 1000; Date.now() < end; await sleep(250)) {
    run = (await prefectApi(side, 'GET', `/flow_runs/${id}`)).body;
    const key = `${run.state_type}/${run.state_name}`;
    if (key !== last) {
      last = key;
      states.push({
        state: run.state_type,
        name: run.state_name,
        atS: sec(Date.now() - killedAt),
      });
    }
  }
  // Did anything start the loop again: another flow run of the deployment, a registry entry for the model?
  const others = await prefectApi<RunBody[]>(side, 'POST', '/flow_runs/filter', {
    deployments: { id: { any_: [side.deploymentId] } },
  });
  const sameModel = others.body.filter((r) => r.parameters?.model_name === model);
  return {
    killed:
      what === 'flow-process'
        ? 'the flow-run process executing the flow and running the trainer (kill -9); its runner keeps running'
        : "the runner and its flow-run process, the runner's whole process group (kill -9), as a lost machine; then a fresh runner",
    flowRunId: id,
    flowProcessPid: flowPid,
    secondsTriggerToKill: sec(killedAt - t0),
    trainerAliveAfterKillMs1000: trainerAlive,
    restartedRunnerReadyMs,
    observedSeconds: OBSERVE_S,
    stateChanges: states,
    finalState: { type: run.state_type, name: run.state_name, message: run.state?.message ?? null },
    endTime: run.end_time ?? null,
    flowRunsForThisModel: sameModel.length,
    runCount: run.run_count ?? null,
    finished: run.state_type === 'COMPLETED',
  };
}

// ---------------------------------------------------------------- main

function summary(loops: readonly Loop[], standaloneMs: number) {
  return {
    medianTotalMs: round1(median(loops.map((l) => l.totalMs))),
    medianTrainerMs: round1(median(loops.map((l) => l.trainerMs))),
    medianOverheadMs: round1(median(loops.map((l) => l.overheadMs))),
    overheadVsStandaloneMs: loops.map((l) => round1(l.totalMs - standaloneMs)),
    medianOverheadVsStandaloneMs: round1(median(loops.map((l) => l.totalMs)) - standaloneMs),
  };
}

function batchSummary(loops: readonly Loop[], standaloneMs: number) {
  const makespanMs = Math.max(...loops.map((l) => l.totalMs));
  const trainerMsSum = loops.reduce((s, l) => s + l.trainerMs, 0);
  return {
    makespanMs: round1(makespanMs),
    trainerMsSum: round1(trainerMsSum),
    overheadPerLoopMs: round1((TRAINER_SLOTS * makespanMs - trainerMsSum) / loops.length),
    overheadPerLoopVsStandaloneMs: round1(
      (TRAINER_SLOTS * makespanMs - loops.length * standaloneMs) / loops.length,
    ),
    outcomes: [...new Set(loops.map((l) => l.outcome))],
  };
}

function version(cmd: string, args: string[]) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

async function main() {
  const began = Date.now();
  const load = { atStart: loadavg() } as Record<string, number[]>;
  const trainerPython = execFileSync('bash', ['scripts/ensure-python-trainer'], { encoding: 'utf8' }).trim();
  const prefectPython = execFileSync('bash', ['scripts/ensure-prefect'], { encoding: 'utf8' }).trim();
  const work = mkdtempSync(path.join(os.tmpdir(), 'vs-prefect-'));
  const clockDir = path.join(root, 'bench', 'prefect', 'trainer_clock');
  const clocks = {
    ctloop: path.join(work, 'ctloop-trainers.jsonl'),
    prefect: path.join(work, 'prefect-trainers.jsonl'),
  };

  const ctloop = await startCtloop(trainerPython, clockDir, clocks.ctloop);
  const prefect = await startPrefect(prefectPython, clocks.prefect, work);
  const firstRunner = await prefect.startRunner();
  try {
    const dataUri = await writeDataset(ctloop.stack.dataDir, 'vs-prefect', { rows: ROWS, seed: 11 });
    const config = flowConfig(
      dataUri,
      trainerPython,
      clockDir,
      clocks.prefect,
      path.join(work, 'registry.sqlite'),
    );
    const policy = ctloopPolicy(PARAMS);
    let n = 0;
    const ctloopOne = async (pollMs: number, count = 1) => {
      const models = Array.from({ length: count }, () => `ct-${++n}`);
      for (const m of models) await registerModel(ctloop.api, m, dataUri, policy);
      return ctloopLoops(ctloop, models, pollMs);
    };
    const prefectOne = (pollMs: number, count = 1) =>
      prefectLoops(
        prefect,
        Array.from({ length: count }, () => `pf-${++n}`),
        config(PARAMS),
        pollMs,
      );

    // Warm-up: one loop per side (first use of each code path, connection pools, Python imports).
    const warmup = { ctloop: await ctloopOne(POLL_MS), prefect: await prefectOne(POLL_MS) };

    load.beforeSingle = loadavg();
    const single = { ctloop: [] as Loop[], prefect: [] as Loop[] };
    const trainCsv = path.join(work, 'train.csv');
    writeTrainingRows(dataUri, trainCsv);
    const standalone: number[] = [];
    const standaloneClock = path.join(work, 'standalone-trainers.jsonl');
    for (let r = 0; r < ROUNDS; r++) {
      standalone.push(await standaloneTrainer(trainerPython, clockDir, standaloneClock, trainCsv));
      await sleep(1_000);
      const order = r % 2 === 0 ? (['ctloop', 'prefect'] as const) : (['prefect', 'ctloop'] as const);
      for (const s of order) {
        single[s].push(...(s === 'ctloop' ? await ctloopOne(POLL_MS) : await prefectOne(POLL_MS)));
        await sleep(1_000);
      }
    }

    load.beforeBatch = loadavg();
    const batch = {
      ctloop: await ctloopOne(200, BATCH),
      prefect: [] as Loop[],
    };
    await sleep(2_000);
    load.beforePrefectBatch = loadavg();
    batch.prefect = await prefectOne(200, BATCH);

    load.beforeKills = loadavg();
    const kills = {
      ctloop: await ctloopKill(ctloop, dataUri),
      prefectFlowProcess: await prefectKill(prefect, config(SLOW_PARAMS), 'flow-process'),
      prefectRunnerAndFlow: await prefectKill(prefect, config(SLOW_PARAMS), 'runner-and-flow'),
    };
    load.atEnd = loadavg();

    const standaloneMs = median(standalone);
    const breakdown = { ctloop: [] as unknown[], prefect: [] as unknown[] };
    for (const loop of single.ctloop) breakdown.ctloop.push(await ctloopBreakdown(ctloop, loop));
    for (const loop of single.prefect) breakdown.prefect.push(await prefectBreakdown(prefect, loop));
    const s = {
      ctloop: summary(single.ctloop, standaloneMs),
      prefect: summary(single.prefect, standaloneMs),
    };
    const b = {
      ctloop: batchSummary(batch.ctloop, standaloneMs),
      prefect: batchSummary(batch.prefect, standaloneMs),
    };
    const r3 = (x: number) => Number(x.toFixed(3));
    const ratio = {
      singleOverhead: r3(s.ctloop.medianOverheadMs / s.prefect.medianOverheadMs),
      singleOverheadVsStandalone: r3(
        s.ctloop.medianOverheadVsStandaloneMs / s.prefect.medianOverheadVsStandaloneMs,
      ),
      batchOverheadPerLoop: r3(b.ctloop.overheadPerLoopMs / b.prefect.overheadPerLoopMs),
      batchOverheadPerLoopVsStandalone: r3(
        b.ctloop.overheadPerLoopVsStandaloneMs / b.prefect.overheadPerLoopVsStandaloneMs,
      ),
    };
    const result = {
      bench: 'vs-prefect',
      at: new Date().toISOString(),
      seconds: Math.round((Date.now() - began) / 1000),
      machine: {
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model ?? null,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        python: version(prefectPython, ['--version']),
        prefect: version(prefectPython, ['-c', 'import prefect; print(prefect.__version__)']),
      },
      loadavg: load,
      setup: {
        data: `${ROWS} rows × ${FEATURES.length} features (domain/synthetic-data.ts, seed 11), one file for both sides; hold-out ${HOLDOUT}`,
        trainer: `python-numpy (trainers/python/numpy_trainer.py) on both sides, ${JSON.stringify(PARAMS)}, checkpoint every ${CHECKPOINT_EVERY} steps`,
        trainerSlots: TRAINER_SLOTS,
        ctloop:
          'api/server.ts + workers/control.ts + 2 × workers/train.ts as processes, Temporal dev server, Postgres; approval off, first run of each model (no champion: no canary, no bake)',
        prefect:
          'prefect server (SQLite, own PREFECT_HOME) + the flow served by one runner (flow.serve, limit 20, PREFECT_RUNNER_POLL_FREQUENCY=1), a process per flow run; global concurrency limit ct-trainer = 2 around the trainer',
        loopEnds:
          'ctloop: the run record’s endedAt; Prefect: the flow run’s end_time; a loop starts when the bench sends its trigger',
        trainerTime:
          'measured inside each trainer process on both sides (bench/prefect/trainer_clock/sitecustomize.py: process start from /proc to exit)',
        standaloneTrainer:
          'the same trainer run by the bench with no orchestrator, once per round of (a), by the same clock; a total minus its median is the overhead counting any slowing of the trainer by the orchestrator (…VsStandalone)',
        warmup: 'one loop per side before (a), reported in warmup and not counted',
        startup: {
          prefectServerReadyMs: prefect.serverReadyMs,
          prefectRunnerReadyMs: firstRunner.readyMs,
        },
      },
      warmup,
      standaloneTrainerMs: { runs: standalone, median: round1(standaloneMs) },
      whereTheTimeGoes: breakdown,
      single: { runs: single, ...s },
      batch: { loops: BATCH, runs: batch, ...b },
      ratio,
      goal: `ctloop's orchestration overhead per loop <= ${GOAL_RATIO} × Prefect's, one loop (a) and 20 at once (b); ctloop's loop survives kill -9 of its training worker`,
      met: {
        single: ratio.singleOverhead <= GOAL_RATIO,
        singleVsStandalone: ratio.singleOverheadVsStandalone <= GOAL_RATIO,
        batch: ratio.batchOverheadPerLoop <= GOAL_RATIO,
        batchVsStandalone: ratio.batchOverheadPerLoopVsStandalone <= GOAL_RATIO,
        ctloopSurvivesKill: kills.ctloop.finished,
      },
      kills,
      prefectApiRetries: prefectRetries,
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/vs-prefect.json', `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result));
  } finally {
    await prefect.close();
    await ctloop.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
