import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Api, httpApi } from '../api/client';
import { expectBody } from '../api/typed-client';
import { readDevTokens } from '../auth/dev-tokens';
import {
  decide,
  expectStatus,
  fastPolicy,
  hasEnded,
  inStage,
  registerModel,
  sendTraffic,
  trigger,
  waitForRun,
  writeDataset,
} from './lib/scenario';

/**
 * `npm run demo [-- --scenario good|bad]`: plays a user's story against a
 * running ctloop (CTLOOP_API_URL, default http://localhost:3000), or starts
 * its own stack when none answers. The last line printed is JSON with the
 * outcome.
 *   good: a model goes live; a drift monitor reports drift; ctloop retrains,
 *         evaluates, waits for a named approver, canaries and promotes.
 *   bad:  the same, but the new version fails a share of its requests in the
 *         canary, so ctloop rolls back to the champion.
 *   window: the model's data is daily partitions (dt=YYYY-MM-DD) and the last
 *         30 days have shifted; the champion was trained on the two months
 *         before; the drift retrain takes the last 30 days, is judged on the
 *         newest 7 and promoted.
 */
const scenario = process.argv.includes('--scenario')
  ? process.argv[process.argv.indexOf('--scenario') + 1]
  : (process.env.CTLOOP_DEMO_SCENARIO ?? 'good');
if (scenario !== 'good' && scenario !== 'bad' && scenario !== 'window') {
  console.error(`demo: unknown scenario "${scenario}" (use good, bad or window)`);
  process.exit(2);
}

const started = Date.now();
const say = (msg: string) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

async function reachable(baseUrl: string): Promise<boolean> {
  try {
    return (await fetch(new URL('/healthz', baseUrl))).ok;
  } catch {
    return false;
  }
}

/** Starts `npm run dev` on its own ports and data folder, for a demo with nothing running. */
async function startOwnStack(): Promise<{ baseUrl: string; child: ChildProcess; dataDir: string }> {
  const port = 3300 + Math.floor(Math.random() * 500);
  const temporalPort = 7300 + Math.floor(Math.random() * 500);
  const env = {
    ...process.env,
    PORT: String(port),
    TEMPORAL_ADDRESS: `localhost:${temporalPort}`,
    TEMPORAL_UI_PORT: String(temporalPort + 1000),
    CTLOOP_DATA_DIR: path.resolve('.data/demo-stack'),
    LOG_LEVEL: 'warn',
  };
  say('no ctloop answering; starting one (npm run dev on its own ports)…');
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const baseUrl = `http://localhost:${port}`;
  const deadline = Date.now() + 180_000;
  while (!(await reachable(baseUrl))) {
    if (child.exitCode !== null) throw new Error('the demo stack exited during start-up');
    if (Date.now() > deadline) throw new Error('the demo stack did not become healthy in 180 s');
    await new Promise((r) => setTimeout(r, 500));
  }
  return { baseUrl, child, dataDir: env.CTLOOP_DATA_DIR };
}

function followStages(label: string) {
  return (run: { stage: string; outcome: string | null; outcomeReason: string | null }) =>
    say(`${label}: ${run.outcome ? `ended ${run.outcome} — ${run.outcomeReason}` : `stage ${run.stage}`}`);
}

/** The cast of the story, each calling with their own development token. */
interface Cast {
  /** dev-admin: registers the model, sends traffic. */
  readonly admin: Api;
  readonly approver: Api;
  readonly operator: Api;
  readonly monitor: Api;
}

async function play({ admin: api, approver, operator, monitor }: Cast) {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:T.Z]/g, '')
    .slice(0, 14);
  const model = `demo-churn-${scenario}-${stamp}`;
  const dir = path.resolve('.data/demo', model);
  mkdirSync(dir, { recursive: true });
  const baseline = await writeDataset(dir, 'baseline', { rows: 2000, seed: 101 });
  const drifted = await writeDataset(dir, 'drifted', { rows: 2000, seed: 202, shift: 1.5 });
  say(`generated data in ${dir}`);

  // The canary judges each step on at least 50 requests per version (the policy default).
  const policy = fastPolicy();
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  let dataUri = baseline;
  if (scenario === 'window') {
    // Daily partitions: two months as before, then 30 days in which the world moved.
    for (let offset = -89; offset <= 0; offset++) {
      const part = path.join(dir, 'daily', `dt=${day(offset)}`);
      mkdirSync(part, { recursive: true });
      await writeDataset(part, 'part-0', { rows: 60, seed: 1000 + offset, shift: offset > -30 ? 1.5 : 0 });
    }
    dataUri = path.join(dir, 'daily', 'dt=*', 'part-0.csv');
    say(`wrote 90 daily partitions under ${path.join(dir, 'daily')} (the last 30 days shifted)`);
  }
  await registerModel(api, model, dataUri, {
    ...policy,
    canary: { ...(policy.canary as object), minRequests: 50 },
    ...(scenario === 'window' ? { data: { windowDays: 30, holdoutDays: 7, maxAgeDays: 2 } } : {}),
  });
  say(
    `registered model ${model}${scenario === 'window' ? ': each run trains on the last 30 days, judged on the newest 7' : ''}`,
  );

  const first = await trigger(
    api,
    model,
    scenario === 'window'
      ? { reason: 'manual', details: { window: { from: day(-89), to: day(-30) } } }
      : { reason: 'manual' },
  );
  await waitForRun(api, model, first.runId, inStage('approve'), { onChange: followStages('first model') });
  expectStatus(await decide(approver, model, first.runId, 'approve', 'first version'), 200);
  await waitForRun(api, model, first.runId, hasEnded, { onChange: followStages('first model') });
  say('version 1 is the champion and serves traffic');

  const loopStarted = Date.now();
  const alert = await trigger(monitor, model, {
    reason: 'drift',
    // With dated partitions the retrain finds the fresh data itself: its window is the last 30 days.
    details: {
      ...(scenario === 'window' ? {} : { dataUri: drifted }),
      psi: { x1: 0.42, x2: 0.37 },
      monitor: 'demo-drift-monitor',
    },
    dedupKey: `drift/${model}/${stamp}`,
  });
  say(`drift monitor triggered a retrain: run ${alert.runId} (${alert.fate})`);
  const follow = followStages('retrain');
  const waiting = await waitForRun(api, model, alert.runId, inStage('approve'), { onChange: follow });
  const evaluation = waiting.reports.evaluation;
  const window = waiting.reports.data;
  if (window) {
    say(
      `data window ${window.from} … ${window.to}: ${window.partitions.length} partitions, ${window.rows} rows, the newest ${window.holdoutRows} held out (content hash ${String(window.contentHash).slice(0, 12)}…)`,
    );
  }
  say(
    `evaluation: candidate accuracy ${evaluation.candidate.accuracy.toFixed(3)} vs champion ${evaluation.champion.accuracy.toFixed(3)} → ${evaluation.verdict.decision}`,
  );
  if (scenario === 'bad') {
    const version = waiting.live.candidateVersion;
    await expectBody(
      operator.v1.models[':model'].versions[':version'].fault.$put({
        param: { model, version: String(version) },
        json: { errorRate: 0.5 },
      }),
      200,
    );
    say(`injected a fault: version ${version} will fail half of its requests`);
  }
  expectStatus(await decide(approver, model, alert.runId, 'approve', 'better on this week’s data'), 200);
  say('dev-approver approved (four-eyes: not the one who registered or triggered)');
  // From here the candidate serves canary traffic (and, in the bad scenario, fails half of it).
  const canaryStarted = Date.now();

  let done = false;
  const traffic = sendTraffic(api, model, await readFile(drifted, 'utf8'), () => done);
  let reported = 0;
  const run = await waitForRun(api, model, alert.runId, hasEnded, {
    timeoutMs: 300_000,
    onChange: (r) => {
      follow(r);
      for (const step of (r.live?.canary.steps ?? []).slice(reported)) {
        say(`canary ${step.weight} %: ${step.verdict} — ${step.reasons.join('; ')}`);
        reported += 1;
      }
    },
  });
  done = true;
  const sent = await traffic;
  for (const step of (run.reports.canary ?? []).slice(reported)) {
    say(`canary ${step.weight} %: ${step.verdict} — ${step.reasons.join('; ')}`);
  }
  say(
    `sent ${sent.sent} prediction requests (${JSON.stringify(sent.byVersion)} by version, ${sent.failed} failed)`,
  );
  const { champion } = await expectBody(api.v1.models[':model'].$get({ param: { model } }), 200);
  const decisive = (run.reports.canary ?? []).at(-1);
  return {
    scenario,
    model,
    runId: alert.runId,
    champion,
    loopSeconds: Number(((Date.now() - loopStarted) / 1000).toFixed(1)),
    totalSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
    outcome: run.outcome as string,
    /** Bad scenario: from the faulty candidate's first canary traffic to the champion serving alone again. */
    faultToRollbackSeconds:
      run.outcome === 'rolled_back' ? Number(((Date.now() - canaryStarted) / 1000).toFixed(1)) : null,
    /** Requests per version behind the last canary verdict. */
    samplesAtDecision: decisive
      ? {
          champion: decisive.championRequests,
          candidate: decisive.candidateRequests,
          verdict: decisive.verdict,
        }
      : null,
  };
}

async function main() {
  let baseUrl = process.env.CTLOOP_API_URL ?? 'http://localhost:3000';
  let dataDir = path.resolve(process.env.CTLOOP_DATA_DIR ?? '.data');
  let own: ChildProcess | null = null;
  if (!(await reachable(baseUrl))) {
    const stack = await startOwnStack();
    baseUrl = stack.baseUrl;
    dataDir = stack.dataDir;
    own = stack.child;
  }
  say(`using ctloop at ${baseUrl}`);
  try {
    const tokens = readDevTokens(dataDir);
    if (!tokens) {
      throw new Error(
        `no development tokens in ${dataDir} (npm run dev writes them); set CTLOOP_DATA_DIR to the stack's data folder`,
      );
    }
    const as = (name: string) => httpApi(baseUrl, tokens[name]);
    const result = await play({
      admin: as('dev-admin'),
      approver: as('dev-approver'),
      operator: as('dev-operator'),
      monitor: as('dev-monitor'),
    });
    console.log(JSON.stringify(result));
    process.exitCode = result.outcome === (scenario === 'bad' ? 'rolled_back' : 'promoted') ? 0 : 1;
  } finally {
    if (own) {
      own.kill('SIGTERM');
      await new Promise((r) => own!.once('exit', r));
    }
  }
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
