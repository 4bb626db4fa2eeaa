import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import type { Api } from '../api/client';
import { runs } from '../db/schema';
import {
  fastPolicy,
  hasEnded,
  registerModel,
  trigger,
  waitForRun,
  writeDataset,
} from '../scripts/lib/scenario';
import { startDevServer } from '../scripts/temporal-dev-server';
import { ensurePostgres } from '../test/helpers/postgres';
import { type Stack, startStackWith } from '../test/helpers/stack';
import { startWorkerProcess, type WorkerProcess } from '../test/helpers/worker-process';
import { workflowsPath } from '../workers/runtime';

/**
 * `npm run bench`: training durability, measured on the real stack (Temporal
 * dev server, Postgres, worker processes), written to
 * bench/results/training-durability.json.
 *   (a) throughput of checkpointed vs un-checkpointed training of one job;
 *   (b) a kill loop: kill -9 the training worker at random moments, start a
 *       replacement, record the work lost and the time to resumed progress;
 *   (c) checkpoint integrity: after all the kills, the model equals the one an
 *       uninterrupted run of the same job produces, and no resume loaded a
 *       checkpoint that failed its checksum.
 */
const KILLS = Number(process.env.BENCH_KILLS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HEARTBEAT_TIMEOUT_S = 3;
const CHECKPOINT_EVERY = 25;
const STEP_DELAY_MS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function services() {
  const temporal = await startDevServer({ headless: true });
  const bundlePath = path.join(mkdtempSync(path.join(tmpdir(), 'ctloop-bench-')), 'workflows.js');
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath, logger: quiet })).code);
  const trainerPython = execFileSync('bash', ['scripts/ensure-python-trainer'], { encoding: 'utf8' }).trim();
  return {
    temporal,
    services: {
      temporalAddress: temporal.address,
      postgresUrl: process.env.DATABASE_URL ?? ensurePostgres(),
      workflowBundlePath: bundlePath,
      trainerPython,
    },
  };
}

/**
 * (a) The same job without checkpoints (only the final one) and with a
 * checkpoint every 100 and every 10 epochs, alternated round by round so that
 * machine noise hits all three alike.
 */
async function throughput(stack: Stack, api: Api) {
  const data = await writeDataset(stack.dataDir, 'throughput', { rows: 20_000, seed: 71 });
  const configs = { unCheckpointed: 1_000_000, every100: 100, every10: 10 } as const;
  const measured: Record<keyof typeof configs, number[]> = { unCheckpointed: [], every100: [], every10: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [kind, every] of Object.entries(configs) as [keyof typeof configs, number][]) {
      const model = `throughput-${kind.toLowerCase()}-${round}`;
      await registerModel(
        api,
        model,
        data,
        fastPolicy({
          approval: { required: false, timeoutSeconds: 60 },
          training: {
            params: { epochs: 400, learningRate: 0.5, l2: 0.001, seed: 7 },
            checkpointEvery: every,
          },
        }),
      );
      const { runId } = await trigger(api, model, { reason: 'manual' });
      const run = await waitForRun(api, model, runId, hasEnded, { timeoutMs: 300_000 });
      measured[kind].push(run.reports.training.stepsPerSecond);
    }
  }
  const base = median(measured.unCheckpointed);
  return {
    job: '20,000 rows × 400 epochs, builtin trainer (about 7 ms an epoch here)',
    stepsPerSecond: measured,
    ratio: {
      every100Epochs: median(measured.every100) / base,
      every10Epochs: median(measured.every10) / base,
    },
  };
}

async function trainingProgress(stack: Stack, runId: string) {
  const [row] = await stack.database.db
    .select({ reports: runs.reports })
    .from(runs)
    .where(eq(runs.id, runId));
  return (
    row?.reports as {
      training?: { attempt: number; step: number; resumedFromStep: number | null; worker: string };
    }
  )?.training;
}

/** (b) + (c) */
async function killLoop(stack: Stack, api: Api) {
  const data = await writeDataset(stack.dataDir, 'kill-loop', { rows: 2_000, seed: 72 });
  const epochs = 4_000;
  const training = {
    trainer: 'python-numpy',
    params: {
      epochs,
      learningRate: 0.2,
      l2: 0.001,
      seed: 5,
      stepDelayMs: STEP_DELAY_MS,
      checkpointPadBytes: 4_000_000,
    },
    checkpointEvery: CHECKPOINT_EVERY,
    heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S,
    retries: { preemptions: KILLS + 5, crashes: 0, backoffSeconds: 0, maxBackoffSeconds: 0 },
  };
  const policy = fastPolicy({ approval: { required: false, timeoutSeconds: 60 }, training });
  await registerModel(api, 'kill-loop', data, policy);
  await registerModel(api, 'uninterrupted', data, policy);

  // A pool of two training workers: the one training is killed, the other takes over, and a new
  // spare starts while it does (as an autoscaled pool would replace a lost node).
  const startTrainWorker = () => startWorkerProcess(stack, { script: 'workers/train.ts' });
  const pool: WorkerProcess[] = [await startTrainWorker(), await startTrainWorker()];
  const { runId } = await trigger(api, 'kill-loop', { reason: 'manual' });
  const kills: Record<string, number | string | null>[] = [];
  let killedAt = 0;
  let lostBefore = 0;
  let spareStarting: Promise<WorkerProcess> | null = null;
  for (let k = 1; k <= KILLS + 1; k++) {
    // Wait until attempt k makes progress beyond the point it resumed from.
    let progress: Awaited<ReturnType<typeof trainingProgress>>;
    for (;;) {
      progress = await trainingProgress(stack, runId);
      if (progress && progress.attempt === k && progress.step > (progress.resumedFromStep ?? 0)) break;
      await sleep(20);
    }
    const progressAt = Date.now();
    if (k > 1) {
      const live = (await api('GET', `/v1/models/kill-loop/runs/${runId}`)).body.live.training;
      kills.push({
        kill: k - 1,
        resumedFromStep: progress.resumedFromStep ?? null,
        lostSteps: live.lostSteps - lostBefore,
        secondsToResumedProgress: Number(((progressAt - killedAt) / 1000).toFixed(2)),
      });
      lostBefore = live.lostSteps;
    }
    if (k > KILLS) break;
    if (spareStarting) pool.push(await spareStarting);
    await sleep(300 + Math.random() * 1_700);
    const pid = Number(progress.worker.split('/').pop());
    const victim = pool.findIndex((w) => w.pid === pid);
    if (victim < 0) throw new Error(`training runs in pid ${pid}, which is not one of the pool's workers`);
    const [dead] = pool.splice(victim, 1);
    await dead!.kill('SIGKILL');
    killedAt = Date.now();
    spareStarting = startTrainWorker();
  }
  const killed = await waitForRun(api, 'kill-loop', runId, hasEnded, { timeoutMs: 600_000 });
  const straight = await trigger(api, 'uninterrupted', { reason: 'manual' });
  const uninterrupted = await waitForRun(api, 'uninterrupted', straight.runId, hasEnded, {
    timeoutMs: 600_000,
  });
  for (const w of [...pool, ...(spareStarting ? [await spareStarting] : [])]) await w.kill('SIGKILL');

  const artifact = async (model: string) =>
    JSON.parse(
      (
        await stack.deps.artifacts.get((await api('GET', `/v1/models/${model}/versions/1`)).body.artifactUri)
      ).toString(),
    );
  const lost = kills.map((k) => k.lostSteps as number);
  const seconds = kills.map((k) => k.secondsToResumedProgress as number);
  const stepsPerHeartbeat = Math.ceil(1_000 / STEP_DELAY_MS);
  const skipped = killed.reports.trainingAttempts.result?.skippedCheckpoints ?? [];
  return {
    killLoop: {
      kills: kills.length,
      checkpointEvery: CHECKPOINT_EVERY,
      heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S,
      stepsPerSecondNominal: 1_000 / STEP_DELAY_MS,
      lostSteps: {
        max: Math.max(...lost),
        median: median(lost),
        bound: CHECKPOINT_EVERY + stepsPerHeartbeat,
      },
      secondsToResumedProgress: {
        max: Math.max(...seconds),
        median: median(seconds),
        goal: HEARTBEAT_TIMEOUT_S + 2,
      },
      perKill: kills,
      outcome: killed.outcome,
      attempts: killed.reports.trainingAttempts.attempts,
    },
    integrity: {
      checkpointBytes: training.params.checkpointPadBytes,
      finalModelEqualsUninterrupted:
        JSON.stringify(await artifact('kill-loop')) === JSON.stringify(await artifact('uninterrupted')),
      uninterruptedOutcome: uninterrupted.outcome,
      checkpointsSkippedAsCorruptOnLastResume: skipped,
    },
  };
}

async function main() {
  const { temporal, services: svc } = await services();
  const stack = await startStackWith(svc, { workers: false });
  const api = stack.api();
  try {
    await stack.startWorkers(['control', 'train']);
    const a = await throughput(stack, api);
    await stack.stopWorkers();
    await stack.startWorkers(['control']);
    const bc = await killLoop(stack, api);
    const result = {
      bench: 'training-durability',
      at: new Date().toISOString(),
      machine: `${(await import('node:os')).cpus().length} cores`,
      throughput: a,
      ...bc,
    };
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/training-durability.json', `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result));
  } finally {
    await stack.close();
    await temporal.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
