import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { generateToken, hashToken } from '../../../auth/identities';
import { freePort, type RunningDevServer, startDevServer } from '../../../scripts/temporal-dev-server';
import { type ProbeSummary, probeWhile, secondsUntilHealthy } from './disruptions';
import { checkInvariants, type InvariantResult } from './invariants';
import { startPostgresServer } from './postgres-server';
import { ProcessPool, type ProcessRole } from './process-pool';
import { type Kill, processFigures, registryFigures, round, runFigures } from './report';
import { ErrorTally, resilientApi } from './resilient-api';
import { type DrivenRun, driveModel, type SentTrigger, writeDatasets } from './scenarios';

export interface SoakConfig {
  readonly models: number;
  /** Planned runs (follow-ups opened by extra triggers come on top). */
  readonly runs: number;
  /** A random ctloop process is killed (-9) every this many seconds, drawn uniformly. */
  readonly killEverySeconds: readonly [number, number];
  readonly temporalRestarts: number;
  /** How long the Temporal dev server stays down at each restart. */
  readonly temporalDownSeconds: number;
  readonly postgresOutageSeconds: number;
  /** A run not ended after this long is reported stuck. */
  readonly runTimeoutSeconds: number;
  /** Start no planned run after this many minutes (the soak then reports fewer runs than planned). */
  readonly maxMinutes?: number;
  /**
   * Keep starting runs for at least this many minutes of driving, even once the
   * planned runs have started: quick runs on a quiet machine would otherwise all
   * end before the first kill, and the faults would hit an idle system.
   */
  readonly minMinutes?: number;
  /**
   * Keep starting runs until at least this many processes have been killed
   * (-9), so that every soak has its kills among runs in flight, however the
   * disruptions and the draws of the kill interval fall.
   */
  readonly minKills?: number;
  /** Keep the soak's folder (logs, databases) even when every invariant holds. */
  readonly keepFiles?: boolean;
}

export const FULL_SOAK: SoakConfig = {
  models: 12,
  runs: 210,
  killEverySeconds: [20, 30],
  temporalRestarts: 3,
  temporalDownSeconds: 5,
  postgresOutageSeconds: 30,
  runTimeoutSeconds: 1200,
  minMinutes: 15,
  minKills: 30,
};

/** The CI variant: 3–5 minutes on a small machine, every kind of run and every kind of fault once. */
export const CI_SOAK: SoakConfig = {
  models: 4,
  runs: 24,
  killEverySeconds: [15, 25],
  temporalRestarts: 1,
  temporalDownSeconds: 5,
  postgresOutageSeconds: 10,
  minMinutes: 2,
  minKills: 4,
  // Patience, not a verdict (the invariants judge): a starved shared machine can take minutes per run.
  runTimeoutSeconds: 900,
};

const IDENTITIES = [
  { name: 'soak-admin', role: 'admin', groups: [] as string[] },
  { name: 'soak-monitor', role: 'trigger', groups: [] },
  { name: 'soak-approver', role: 'approver', groups: ['ml-reviewers'] },
  { name: 'soak-operator', role: 'operator', groups: [] },
] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Disruption {
  readonly kind: 'temporal-restart' | 'postgres-outage';
  /** Share of the planned runs started when it is due. */
  readonly at: number;
  done: boolean;
}

/**
 * The chaos soak: two API processes, two control and two training workers on
 * a Postgres and a Temporal dev server (SQLite-backed, so it can restart) of
 * its own; models driven through every kind of run while processes are killed
 * (-9) and restarted, Temporal restarts and Postgres goes away; then the
 * invariants, checked from the registry and from Temporal.
 */
export async function runSoak(config: SoakConfig, log: (line: string) => void = console.error) {
  const startedAt = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'ctloop-chaos-'));
  for (const sub of ['logs', 'data', 'artifacts']) mkdirSync(path.join(dir, sub), { recursive: true });
  log(`chaos: files in ${dir}`);

  const postgres = await startPostgresServer(dir);
  const temporalPort = await freePort();
  const temporalDb = path.join(dir, 'temporal.db');
  let temporal: RunningDevServer = await startDevServer({
    port: temporalPort,
    dbFilename: temporalDb,
    headless: true,
  });

  const tokens = Object.fromEntries(IDENTITIES.map((i) => [i.name, generateToken()]));
  const apiPorts = [await freePort(), await freePort()];
  const apiUrls = apiPorts.map((p) => `http://127.0.0.1:${p}`);
  const pool = new ProcessPool(
    {
      ...process.env,
      DATABASE_URL: postgres.url,
      TEMPORAL_ADDRESS: temporal.address,
      CTLOOP_TASK_QUEUE: 'ct',
      CTLOOP_TRAIN_TASK_QUEUE: 'ct-train',
      CTLOOP_GPU_TRAIN_TASK_QUEUE: 'ct-train-gpu',
      CTLOOP_DATA_DIR: path.join(dir, 'data'),
      CTLOOP_ARTIFACTS_DIR: path.join(dir, 'artifacts'),
      CTLOOP_TOKENS: JSON.stringify(
        IDENTITIES.map((i) => ({
          name: i.name,
          role: i.role,
          groups: i.groups,
          sha256: hashToken(tokens[i.name]!),
        })),
      ),
      CTLOOP_CODE_VERSION: 'chaos-soak',
      LOG_LEVEL: 'info',
    },
    path.join(dir, 'logs'),
  );
  const roles: [string, ProcessRole, Record<string, string>][] = [
    ['api-1', 'api', { PORT: String(apiPorts[0]) }],
    ['api-2', 'api', { PORT: String(apiPorts[1]) }],
    ['control-1', 'control', {}],
    ['control-2', 'control', {}],
    ['train-1', 'train', {}],
    ['train-2', 'train', {}],
  ];
  for (const [name, role, env] of roles) pool.add(name, role, env);

  const tally = new ErrorTally();
  const api = (who: (typeof IDENTITIES)[number]['name']) => resilientApi(apiUrls, tokens[who]!, tally);
  const actors = {
    admin: api('soak-admin'),
    monitor: api('soak-monitor'),
    approver: api('soak-approver'),
    operator: api('soak-operator'),
  };
  const sentTriggers: SentTrigger[] = [];
  const runs: DrivenRun[] = [];
  const kills: Kill[] = [];
  const temporalRestarts: Record<string, unknown>[] = [];
  const postgresOutages: Record<string, unknown>[] = [];
  let plannedStarted = 0;
  let invariants: Record<string, InvariantResult> = {};
  let settled = false;
  try {
    // Started together on an empty database, as docker-compose starts them.
    const startup = Date.now();
    await Promise.all(roles.map(([name]) => pool.start(name)));
    const startupSeconds = (Date.now() - startup) / 1000;
    log(`chaos: 6 processes ready in ${round(startupSeconds)} s`);

    const data = writeDatasets(path.join(dir, 'data'));
    // Spread over the soak (15 % to 80 % of the planned runs started), the Postgres outage in the middle.
    const kinds: Disruption['kind'][] = Array.from(
      { length: config.temporalRestarts },
      () => 'temporal-restart',
    );
    if (config.postgresOutageSeconds > 0) kinds.splice(Math.ceil(kinds.length / 2), 0, 'postgres-outage');
    const disruptions: Disruption[] = kinds.map((kind, j) => ({
      kind,
      at: kinds.length === 1 ? 0.5 : 0.15 + (j * 0.65) / (kinds.length - 1),
      done: false,
    }));

    let driving = true;
    const restarting = new Set<string>();
    const pendingRestarts: Promise<unknown>[] = [];
    const drivingFrom = Date.now();
    const minDrivingMs = (config.minMinutes ?? 0) * 60_000;
    // How far the soak is: both its planned runs and its minimum duration count.
    const progress = () =>
      Math.min(
        plannedStarted / config.runs,
        minDrivingMs > 0 ? (Date.now() - drivingFrom) / minDrivingMs : 1,
      );

    const disrupt = async (d: Disruption) => {
      const probePaths = ['/healthz', '/v1/models', `/v1/models/chaos-0/runs`];
      let stopProbe!: () => void;
      const probing = probeWhile(
        apiUrls,
        probePaths,
        tokens['soak-monitor']!,
        new Promise((r) => (stopProbe = () => r())),
      );
      tally.phase = d.kind;
      const downAt = Date.now();
      let probes: Record<string, ProbeSummary>;
      if (d.kind === 'temporal-restart') {
        log('chaos: stopping the Temporal dev server');
        await temporal.stop();
        await sleep(config.temporalDownSeconds * 1000);
        const startAt = Date.now();
        temporal = await startDevServer({ port: temporalPort, dbFilename: temporalDb, headless: true });
        const upAt = Date.now();
        const healthy = await secondsUntilHealthy(apiUrls);
        stopProbe();
        probes = await probing;
        temporalRestarts.push({
          at: new Date(downAt).toISOString(),
          downSeconds: round((upAt - downAt) / 1000),
          serverStartSeconds: round((upAt - startAt) / 1000),
          upAt: new Date(upAt).toISOString(),
          apisHealthySecondsAfterReturn: healthy === null ? null : round(healthy),
          apiAnswersWhileDown: probes,
        });
      } else {
        log(`chaos: stopping Postgres for ${config.postgresOutageSeconds} s`);
        await postgres.stop();
        await sleep(config.postgresOutageSeconds * 1000);
        await postgres.start();
        const upAt = Date.now();
        const healthy = await secondsUntilHealthy(apiUrls);
        stopProbe();
        probes = await probing;
        postgresOutages.push({
          at: new Date(downAt).toISOString(),
          downSeconds: round((upAt - downAt) / 1000),
          upAt: new Date(upAt).toISOString(),
          apisHealthySecondsAfterReturn: healthy === null ? null : round(healthy),
          apiAnswersWhileDown: probes,
        });
      }
      tally.phase = 'normal';
      d.done = true;
    };

    const planningEnds = startedAt + (config.maxMinutes ?? Number.POSITIVE_INFINITY) * 60_000;
    /** No more runs start: the time is up, or the planned runs, the minimum duration and the kills are all done. */
    const planningOver = () =>
      Date.now() > planningEnds ||
      (plannedStarted >= config.runs &&
        Date.now() - drivingFrom >= minDrivingMs &&
        kills.length >= (config.minKills ?? 0));

    // Kills stop with the planning: the runs still going then end without new faults (the disruptions
    // not done yet happen after them), so a straggler is not kept going by ever more kills.
    const director = (async () => {
      while (driving && !planningOver()) {
        const [lo, hi] = config.killEverySeconds;
        const wait = (lo + Math.random() * (hi - lo)) * 1000;
        for (const until = Date.now() + wait; driving && Date.now() < until; ) await sleep(250);
        if (!driving || planningOver()) break;
        const due = disruptions.find((d) => !d.done && progress() >= d.at);
        if (due) {
          await disrupt(due);
          continue;
        }
        const candidates = [...pool.members.values()].filter((m) => m.ready && !restarting.has(m.name));
        if (candidates.length === 0) continue;
        const victim = candidates[Math.floor(Math.random() * candidates.length)]!;
        const at = new Date().toISOString();
        restarting.add(victim.name);
        log(`chaos: kill -9 ${victim.name}`);
        const kill = { at, process: victim.name, restartSeconds: null as number | null };
        kills.push(kill);
        pendingRestarts.push(
          pool
            .killAndRestart(victim.name)
            .then((s) => {
              kill.restartSeconds = round(s);
            })
            .catch((err) => log(`chaos: ${victim.name} did not restart: ${err}`))
            .finally(() => restarting.delete(victim.name)),
        );
      }
    })();

    const mayStartRun = () => {
      if (planningOver()) return false;
      plannedStarted += 1;
      return true;
    };
    const ctx = {
      actors,
      data,
      sentTriggers,
      runs,
      mayStartRun,
      runTimeoutMs: config.runTimeoutSeconds * 1000,
      log,
    };
    const progressLog = setInterval(() => {
      const ended = runs.filter((r) => r.outcome).length;
      log(
        `chaos: ${ended} runs ended, ${plannedStarted}/${config.runs} planned started, ${kills.length} kills`,
      );
    }, 30_000);
    const drivers = await Promise.allSettled(
      Array.from({ length: config.models }, (_, i) => driveModel(ctx, `chaos-${i}`, i)),
    );
    clearInterval(progressLog);
    // Whatever was not done yet happens now, so the soak always has every fault it promises.
    driving = false;
    await director;
    // Restarts first: an outage then measures the recovery of processes that were up, not start-ups.
    await Promise.all(pendingRestarts);
    for (const d of disruptions.filter((x) => !x.done)) await disrupt(d);
    for (const [name] of roles) if (!pool.members.get(name)!.ready) await pool.start(name);
    const driverErrors = drivers.flatMap((d) => (d.status === 'rejected' ? [String(d.reason)] : []));
    for (const e of driverErrors) log(`chaos: a model driver stopped: ${e}`);

    // Settle: every run ended, every trigger decided (bounded).
    const settleStart = Date.now();
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    for (;;) {
      const open = (
        await db.query(`select
          (select count(*) from runs where outcome is null)::int as runs,
          (select count(*) from triggers where fate = 'received')::int as triggers`)
      ).rows[0] as { runs: number; triggers: number };
      if (open.runs === 0 && open.triggers === 0) {
        settled = true;
        break;
      }
      if (Date.now() - settleStart > 180_000) break;
      await sleep(1_000);
    }
    const settleSeconds = (Date.now() - settleStart) / 1000;

    const connection = await Connection.connect({ address: temporal.address });
    try {
      invariants = await checkInvariants({
        databaseUrl: postgres.url,
        temporal: new Client({ connection }),
        apis: [
          resilientApi([apiUrls[0]!], tokens['soak-monitor']!, tally),
          resilientApi([apiUrls[1]!], tokens['soak-monitor']!, tally),
        ],
        sentTriggers,
      });
    } finally {
      await connection.close();
    }

    const registry = await registryFigures(db, [...temporalRestarts, ...postgresOutages]);
    await db.end();
    const ok = settled && driverErrors.length === 0 && Object.values(invariants).every((i) => i.ok);
    return {
      bench: 'chaos',
      at: new Date(startedAt).toISOString(),
      minutes: round((Date.now() - startedAt) / 60_000),
      config,
      ok,
      stoppedEarly: plannedStarted < config.runs,
      invariants,
      runs: runFigures(runs, registry.outcomes, config.models),
      triggers: {
        sent: sentTriggers.length,
        unanswered: sentTriggers.filter((t) => t.status === 0).length,
        byFate: registry.fates,
      },
      processes: processFigures(kills, pool.unpromptedExits, startupSeconds),
      temporalRestarts,
      postgresOutages,
      apiErrors: {
        serverErrors: tally.serverErrors(),
        byPhase: tally.counts,
        slowAnswersByPhase: tally.slow,
      },
      settleSeconds: round(settleSeconds),
      driverErrors,
      files: config.keepFiles || !ok ? dir : null,
    };
  } finally {
    await pool.stopAll().catch(() => {});
    await temporal.stop().catch(() => {});
    await postgres.close().catch(() => {});
    const keep = config.keepFiles || !settled || !Object.values(invariants).every((i) => i.ok);
    if (!keep) rmSync(dir, { recursive: true, force: true });
    else log(`chaos: kept ${dir} (logs of every process, the databases)`);
  }
}
