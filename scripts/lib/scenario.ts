import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type ApiClient, answer, expectBody } from '../../api/typed-client';
import { parseCsv } from '../../domain/csv';
import type { PolicyInput } from '../../domain/policy';
import { generateDataset, type SyntheticDataOptions } from '../../domain/synthetic-data';
import type { TriggerCause } from '../../workflows/messages';

/**
 * The building blocks of a user's story with ctloop, shared by `npm run demo`
 * and the end-to-end tests: make data, register a model, trigger, follow the
 * run, send prediction traffic with ground truth, decide.
 */

export const FEATURES = ['x1', 'x2', 'x3', 'x4'] as const;

/** A policy whose stages take seconds, not hours, so a whole loop runs in a test or a demo. */
export function fastPolicy(overrides: Partial<Record<keyof PolicyInput, unknown>> = {}): PolicyInput {
  return {
    schema: { features: FEATURES.map((name) => ({ name, min: -20, max: 20 })), label: 'label' },
    validation: { minRows: 200 },
    training: { params: { epochs: 150, learningRate: 0.5, l2: 0.001, seed: 7 }, checkpointEvery: 25 },
    evaluation: { minImprovement: 0.01, minAccuracy: 0.7 },
    approval: { required: true, timeoutSeconds: 600 },
    canary: {
      steps: [10, 50, 100],
      minRequests: 30,
      minLabelled: 20,
      stepMaxSeconds: 120,
      pollSeconds: 1,
      maxErrorRateIncrease: 0.05,
      maxAccuracyDrop: 0.1,
    },
    bake: { seconds: 3 },
    ...overrides,
  } as PolicyInput;
}

export async function writeDataset(dir: string, name: string, opts: SyntheticDataOptions): Promise<string> {
  const file = path.join(dir, `${name}.csv`);
  await writeFile(file, generateDataset(opts));
  return file;
}

/** The body of an answer already read, when its status is one of `ok`. */
export function expectStatus<R extends { status: number; body: unknown }>(
  res: R,
  ...ok: number[]
): R['body'] {
  if (!ok.includes(res.status)) {
    throw new Error(`unexpected HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

type RunAnswer = Awaited<ReturnType<ApiClient['v1']['models'][':model']['runs'][':runId']['$get']>>;
type RunBody = Extract<Awaited<ReturnType<RunAnswer['json']>>, { id: string }>;
/**
 * A run as `GET /v1/models/:model/runs/:runId` returns it, typed by its
 * route's response schema; only the stage reports, free-form JSON written by
 * each stage, are left open for stories to read.
 */
export type RunView = Omit<RunBody, 'reports' | 'live' | 'causes'> & {
  readonly causes: readonly TriggerCause[];
  // biome-ignore lint/suspicious/noExplicitAny: stage reports are free-form JSON (docs per stage)
  readonly reports: Record<string, any>;
  /** Stories read it after waiting for the state they look at, so it is there. */
  readonly live: NonNullable<RunBody['live']>;
};

export async function registerModel(api: ApiClient, name: string, dataUri: string, policy: PolicyInput) {
  return expectBody(api.v1.models.$post({ json: { name, dataUri, policy } }), 201);
}

type TriggerInput = Parameters<ApiClient['v1']['models'][':model']['triggers']['$post']>[0]['json'];

/** A trigger as a story writes it; the API checks the reason (a 400 names it). */
export async function trigger(
  api: ApiClient,
  model: string,
  body: { reason: string; details?: Record<string, unknown>; dedupKey?: string },
) {
  const call = api.v1.models[':model'].triggers.$post({ param: { model }, json: body as TriggerInput });
  const accepted = await expectBody(call, 202, 200);
  return { ...accepted, runId: accepted.runId ?? '' };
}

export async function getRun(api: ApiClient, model: string, runId: string): Promise<RunView> {
  return (await expectBody(
    api.v1.models[':model'].runs[':runId'].$get({ param: { model, runId } }),
    200,
  )) as unknown as RunView;
}

/** Polls the run until `predicate` holds (or the run ends, or time runs out). */
export async function waitForRun(
  api: ApiClient,
  model: string,
  runId: string,
  predicate: (run: RunView) => boolean,
  opts: { timeoutMs?: number; onChange?: (run: RunView) => void } = {},
): Promise<RunView> {
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  let lastStage = '';
  for (;;) {
    const res = await answer(api.v1.models[':model'].runs[':runId'].$get({ param: { model, runId } }));
    if (res.status === 200) {
      const run = res.body as unknown as RunView;
      const stage = `${run.stage}/${run.outcome ?? ''}`;
      if (stage !== lastStage) {
        lastStage = stage;
        opts.onChange?.(run);
      }
      if (predicate(run)) return run;
      if (run.outcome)
        throw new Error(`run ${runId} ended ${run.outcome} (${run.outcomeReason}) before the awaited state`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for run ${runId} (last: ${lastStage})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const hasEnded = (run: RunView) => run.outcome !== null;
export const inStage = (stage: string) => (run: RunView) => run.stage === stage;

/**
 * Sends prediction requests built from a dataset's rows, each with a sticky key,
 * and reports the true label as feedback, until `stop()` says so.
 */
export async function sendTraffic(
  api: ApiClient,
  model: string,
  csvText: string,
  stop: () => boolean,
  opts: { maxRequests?: number } = {},
): Promise<{ sent: number; byVersion: Record<string, number>; failed: number }> {
  const table = parseCsv(csvText);
  const labelIndex = table.columns.indexOf('label');
  const byVersion: Record<string, number> = {};
  let sent = 0;
  let failed = 0;
  while (!stop() && sent < (opts.maxRequests ?? 100_000)) {
    // Yield to timers and I/O: in-process calls against embedded PGlite can resolve without ever
    // leaving the microtask queue, which would starve the worker sharing this process.
    await new Promise((r) => setImmediate(r));
    const row = table.rows[sent % table.rows.length]!;
    const features = Object.fromEntries(
      FEATURES.map((f) => {
        const cell = row[table.columns.indexOf(f)];
        return [f, cell === undefined || cell === '' ? null : Number(cell)];
      }),
    );
    const res = await answer(
      api.v1.models[':model'].predict.$post({ param: { model }, json: { features, key: `user-${sent}` } }),
    );
    sent += 1;
    if (res.status === 200) {
      byVersion[res.body.version] = (byVersion[res.body.version] ?? 0) + 1;
      await api.v1.models[':model'].feedback.$post({
        param: { model },
        json: { predictionId: res.body.predictionId, label: Number(row[labelIndex]) === 1 ? 1 : 0 },
      });
    } else {
      failed += 1;
      if (res.status !== 502) await new Promise((r) => setTimeout(r, 50)); // no model served yet
    }
  }
  return { sent, byVersion, failed };
}

/** `approver` is the API as the person deciding (their token says who they are). */
export async function decide(
  approver: ApiClient,
  model: string,
  runId: string,
  decision: 'approve' | 'reject',
  reason?: string,
) {
  const run = approver.v1.models[':model'].runs[':runId'];
  const call = { param: { model, runId }, json: { reason } };
  return answer(decision === 'approve' ? run.approve.$post(call) : run.reject.$post(call));
}

/**
 * Registers a model and takes its first run through to `promoted`, so that a
 * story can start from "there is a champion in production".
 */
export async function bootstrapChampion(
  api: ApiClient,
  model: string,
  dataUri: string,
  policy: PolicyInput,
  approver?: ApiClient,
) {
  await registerModel(api, model, dataUri, policy);
  const { runId } = await trigger(api, model, { reason: 'manual' });
  const approvalNeeded = (policy.approval as { required?: boolean } | undefined)?.required !== false;
  if (approvalNeeded) {
    if (!approver) throw new Error('bootstrapChampion: the policy needs an approval; pass an approver');
    await waitForRun(api, model, runId, inStage('approve'));
    const decided = await decide(approver, model, runId, 'approve', 'first model');
    if (decided.status !== 200) throw new Error(`approval refused: ${JSON.stringify(decided.body)}`);
  }
  const run = await waitForRun(api, model, runId, hasEnded);
  if (run.outcome !== 'promoted') throw new Error(`bootstrap run ended ${run.outcome}: ${run.outcomeReason}`);
  await waitForModelToLetGo(api, model, runId);
  return run;
}

/**
 * The run's record ends a moment before the model's workflow sees its child complete; a trigger
 * sent in between is held for a follow-up. Waits until the model's workflow has let the run go,
 * so that the story's next trigger starts a run instead of queueing behind this one.
 */
export async function waitForModelToLetGo(api: ApiClient, model: string, runId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const runs = await expectBody(api.v1.models[':model'].runs.$get({ param: { model } }), 200);
    const state = runs.workflow as { current?: { runId?: string } | null } | null;
    if (state?.current?.runId !== runId) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the model workflow of ${model} still holds run ${runId} after 5 s`);
}
