import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Api } from '../../../api/client';
import type { PolicyInput } from '../../../domain/policy';
import { generateDataset } from '../../../domain/synthetic-data';
import { expectStatus, fastPolicy, type RunView, sendTraffic } from '../../../scripts/lib/scenario';

/**
 * The stories the soak plays on each model, one run at a time, through the
 * API (any of its processes): each kind of run is meant to end in one
 * outcome, and what it did end in is recorded next to what it was meant to.
 */
export const RUN_KINDS = {
  good: 'promoted',
  badData: 'rejected_data',
  worseCandidate: 'rejected_eval',
  faultyCanary: 'rolled_back',
  bakeRollback: 'rolled_back',
  approvalExpiry: 'rejected_approval',
} as const;
export type RunKind = keyof typeof RUN_KINDS | 'followUp';

/** One cycle of kinds per model; good runs twice, so that champions keep changing. */
const CYCLE: readonly (keyof typeof RUN_KINDS)[] = [
  'good',
  'badData',
  'faultyCanary',
  'worseCandidate',
  'good',
  'bakeRollback',
  'approvalExpiry',
];

/** Feature shifts of the datasets: a candidate trained on another shift than the champion's beats it. */
const SHIFTS = [0, 1.5, -1.5] as const;
const SEEDS_PER_SHIFT = 3;

export interface Datasets {
  /** Files per shift. */
  readonly byShift: Map<number, string[]>;
  /** A file that breaks the declared schema (a renamed column, text in a numeric one). */
  readonly broken: string;
}

export function writeDatasets(dir: string): Datasets {
  const byShift = new Map<number, string[]>();
  for (const shift of SHIFTS) {
    const files: string[] = [];
    for (let seed = 1; seed <= SEEDS_PER_SHIFT; seed++) {
      const file = path.join(dir, `shift_${shift}_seed_${seed}.csv`);
      writeFileSync(file, generateDataset({ rows: 1500, seed: seed * 100 + SHIFTS.indexOf(shift), shift }));
      files.push(file);
    }
    byShift.set(shift, files);
  }
  const good = readFileSync(byShift.get(0)![0]!, 'utf8');
  const broken = path.join(dir, 'broken.csv');
  writeFileSync(broken, good.replace('x4', 'x4_renamed').replace(/\n(-?[0-9.]+),/, '\nnot-a-number,'));
  return { byShift, broken };
}

const shiftOf = (dataUri: string | undefined) => {
  const m = /shift_(-?[0-9.]+)_seed/.exec(dataUri ?? '');
  return m ? Number(m[1]) : null;
};

/** The soak's policy: stages of seconds, no cooldowns, a budget the soak stays under. */
export function soakPolicy(kind: RunKind): PolicyInput {
  const base = {
    // A smaller bootstrap for the guardrails: a dozen models evaluate at once on a small machine.
    evaluation: { minImprovement: 0.01, minAccuracy: 0.7, bootstrapResamples: 500 },
    approval: { required: true, timeoutSeconds: 900 },
    canary: {
      steps: [20, 100],
      minRequests: 30,
      minLabelled: 20,
      stepMaxSeconds: 300,
      pollSeconds: 1,
      maxErrorRateIncrease: 0.05,
      maxAccuracyDrop: 0.1,
    },
    bake: { seconds: 2 },
    triggers: { cooldownSeconds: 0, rollbackCooldownSeconds: 0, dailyRunBudget: 1000, dedupTtlSeconds: 3600 },
  };
  switch (kind) {
    case 'worseCandidate':
      // Two tiny steps of training: the candidate cannot be better than the champion.
      return fastPolicy({
        ...base,
        training: { params: { epochs: 2, learningRate: 0.001, l2: 0, seed: 7 } },
      });
    case 'bakeRollback':
      return fastPolicy({ ...base, bake: { seconds: 300 } });
    case 'approvalExpiry':
      return fastPolicy({ ...base, approval: { required: true, timeoutSeconds: 3 } });
    default:
      return fastPolicy(base);
  }
}

export interface Actors {
  readonly admin: Api;
  readonly monitor: Api;
  readonly approver: Api;
  readonly operator: Api;
}

/** What the driver saw of one trigger it sent (compared with the registry at the end). */
export interface SentTrigger {
  readonly model: string;
  readonly status: number;
  readonly triggerId: string | null;
  readonly fate: string | null;
  readonly runId: string | null;
}

export interface DrivenRun {
  readonly model: string;
  readonly runId: string;
  readonly kind: RunKind;
  readonly expected: string | null;
  outcome: string | null;
  reason: string | null;
  seconds: number;
  /** Set when the driver gave up waiting for the run to end. */
  stuck?: boolean;
}

export interface ModelDriverContext {
  readonly actors: Actors;
  readonly data: Datasets;
  readonly sentTriggers: SentTrigger[];
  readonly runs: DrivenRun[];
  /** Asks whether another planned run may start (the soak's run budget). */
  readonly mayStartRun: () => boolean;
  readonly runTimeoutMs: number;
  readonly log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** Plays run after run on one model until the budget is spent; then drives what is left to its end. */
export async function driveModel(ctx: ModelDriverContext, model: string, offset: number): Promise<void> {
  const { actors } = ctx;
  const registered = await actors.admin('POST', '/v1/models', {
    name: model,
    dataUri: ctx.data.byShift.get(0)![0],
    policy: soakPolicy('good'),
  });
  if (registered.status !== 201 && registered.status !== 409) {
    throw new Error(`register ${model}: HTTP ${registered.status} ${JSON.stringify(registered.body)}`);
  }
  let policyKind: RunKind = 'good';
  for (let i = offset; ; i++) {
    await driveLeftovers(ctx, model);
    if (!ctx.mayStartRun()) break;
    // The first run makes the first champion.
    const kind = i === offset ? 'good' : CYCLE[i % CYCLE.length]!;
    if (kind !== policyKind) {
      expectStatus(await actors.admin('PUT', `/v1/models/${model}`, { policy: soakPolicy(kind) }), 200);
      policyKind = kind;
    }
    await playRun(ctx, model, kind);
  }
  await driveLeftovers(ctx, model);
}

/** Drives any run the model's workflow holds (a follow-up opened by a trigger during a run) to its end. */
async function driveLeftovers(ctx: ModelDriverContext, model: string): Promise<void> {
  for (;;) {
    const state = expectStatus(await ctx.actors.monitor('GET', `/v1/models/${model}/runs`), 200).workflow;
    const runId: string | undefined = state?.current?.runId ?? state?.pending?.runId;
    if (!runId) return;
    if (ctx.runs.some((r) => r.runId === runId && r.outcome !== null)) {
      await sleep(200); // ended; the model's workflow lets it go in a moment
      continue;
    }
    await followRun(ctx, model, runId, 'followUp');
  }
}

async function chooseData(ctx: ModelDriverContext, model: string, kind: RunKind): Promise<string> {
  if (kind === 'badData') return ctx.data.broken;
  const info = expectStatus(await ctx.actors.monitor('GET', `/v1/models/${model}`), 200);
  let championShift: number | null = null;
  if (info.champion !== null && info.champion !== undefined) {
    const version = expectStatus(
      await ctx.actors.monitor('GET', `/v1/models/${model}/versions/${info.champion}`),
      200,
    );
    championShift = shiftOf(version.dataUri);
  }
  // A weak candidate is judged on the champion's own kind of data, where the champion is at its best.
  const shifts =
    kind === 'worseCandidate' && championShift !== null
      ? [championShift]
      : SHIFTS.filter((s) => s !== championShift);
  return pick(ctx.data.byShift.get(pick(shifts))!);
}

async function playRun(ctx: ModelDriverContext, model: string, kind: RunKind): Promise<void> {
  const dataUri = await chooseData(ctx, model, kind);
  const dedupKey = randomUUID();
  const reason = pick(['drift', 'manual', 'schedule', 'performance']);
  const sent = await sendTrigger(ctx, model, { reason, details: { dataUri }, dedupKey });
  if (!sent.runId || !['started', 'queued', 'joined', 'held'].includes(sent.fate ?? '')) {
    ctx.log(`${model}: trigger for a ${kind} run was ${sent.fate ?? `HTTP ${sent.status}`}`);
    return;
  }
  // A monitor re-delivering the same alert: deduplicated, no second run.
  if (Math.random() < 0.3) await sendTrigger(ctx, model, { reason, details: { dataUri }, dedupKey });
  await followRun(ctx, model, sent.runId, kind);
}

async function sendTrigger(
  ctx: ModelDriverContext,
  model: string,
  body: { reason: string; details: Record<string, unknown>; dedupKey?: string },
): Promise<SentTrigger> {
  let sent: SentTrigger;
  try {
    const res = await ctx.actors.monitor('POST', `/v1/models/${model}/triggers`, body);
    const ok = res.status === 200 || res.status === 202;
    sent = {
      model,
      status: res.status,
      triggerId: ok ? res.body.triggerId : null,
      fate: ok ? res.body.fate : (res.body?.error?.code ?? null),
      runId: ok ? (res.body.runId ?? null) : null,
    };
  } catch (err) {
    ctx.log(`${model}: trigger got no answer: ${(err as Error).message}`);
    sent = { model, status: 0, triggerId: null, fate: null, runId: null };
  }
  ctx.sentTriggers.push(sent);
  return sent;
}

/**
 * Follows one run to its end, doing what its kind asks at each stage: approve
 * (after injecting a fault into the candidate for a faulty canary), send
 * prediction traffic with feedback through canary and bake, roll back in
 * bake; an approval-expiry run is left alone until its deadline passes.
 */
async function followRun(
  ctx: ModelDriverContext,
  model: string,
  runId: string,
  kind: RunKind,
): Promise<void> {
  const { actors } = ctx;
  const started = Date.now();
  const record: DrivenRun = {
    model,
    runId,
    kind,
    expected: kind === 'followUp' ? null : RUN_KINDS[kind],
    outcome: null,
    reason: null,
    seconds: 0,
  };
  ctx.runs.push(record);
  let approved = kind === 'approvalExpiry';
  let faulted = kind !== 'faultyCanary';
  let rolledBack = kind !== 'bakeRollback';
  let followUpSent = false;
  let ended = false;
  let traffic: Promise<unknown> | null = null;
  try {
    while (Date.now() - started < ctx.runTimeoutMs) {
      const res = await actors.monitor<RunView>('GET', `/v1/models/${model}/runs/${runId}`);
      if (res.status === 404) {
        await sleep(300); // a follow-up's record appears when it starts
        continue;
      }
      const run = expectStatus(res, 200);
      if (run.outcome) {
        record.outcome = run.outcome;
        record.reason = run.outcomeReason;
        return;
      }
      if (run.stage === 'approve') {
        // A drift alert while the run waits for a human: it opens a follow-up run.
        if (!followUpSent && kind !== 'followUp' && Math.random() < 0.15) {
          followUpSent = true;
          const dataUri = pick(ctx.data.byShift.get(pick(SHIFTS))!);
          await sendTrigger(ctx, model, { reason: 'drift', details: { dataUri } });
        }
        const candidate = run.candidateVersion ?? run.live?.candidateVersion;
        if (!faulted && candidate) {
          const path = `/v1/models/${model}/versions/${candidate}/fault`;
          expectStatus(await actors.operator('PUT', path, { errorRate: 0.5 }), 200);
          faulted = true;
        }
        if (!approved && faulted) {
          const decision = await actors.approver('POST', `/v1/models/${model}/runs/${runId}/approve`, {
            reason: 'chaos soak',
          });
          // 409: a retried call whose first attempt was applied, or the run moved on.
          if (decision.status === 200 || decision.status === 409) approved = true;
        }
      }
      if ((run.stage === 'canary' || run.stage === 'bake') && !traffic) {
        // Production traffic looks like the data the run trained on: the world has drifted to it.
        const trainedOn = (run as RunView & { dataUri?: string }).dataUri;
        const csv = readFileSync(
          shiftOf(trainedOn) === null ? ctx.data.byShift.get(0)![0]! : trainedOn!,
          'utf8',
        );
        traffic = sendTraffic(actors.monitor, model, csv, () => ended).catch((err) =>
          ctx.log(`${model}: traffic stopped: ${(err as Error).message}`),
        );
      }
      if (run.stage === 'bake' && !rolledBack) {
        const res = await actors.operator('POST', `/v1/models/${model}/rollback`, {
          reason: 'chaos soak: operator rollback in bake',
        });
        if (res.status === 202 || res.status === 409) rolledBack = true;
      }
      // Each look at a run is a Temporal query the control workers answer: once a second is enough.
      await sleep(1_000);
    }
    record.stuck = true;
    ctx.log(`${model}: run ${runId} (${kind}) did not end within ${ctx.runTimeoutMs} ms`);
  } finally {
    ended = true;
    await traffic;
    record.seconds = (Date.now() - started) / 1000;
  }
}
