import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ApiCall } from '../../api/client';
import { parseCsv } from '../../domain/csv';
import type { PolicyInput } from '../../domain/policy';
import { generateDataset, type SyntheticDataOptions } from '../../domain/synthetic-data';

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

export function expectStatus<T>(res: { status: number; body: T }, ...ok: number[]): T {
  if (!ok.includes(res.status)) {
    throw new Error(`unexpected HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** A run as `GET /v1/models/:model/runs/:runId` returns it (the fields stories look at). */
export interface RunView {
  readonly id: string;
  readonly stage: string;
  readonly outcome: string | null;
  readonly outcomeReason: string | null;
  readonly candidateVersion: number | null;
  readonly causes: { reason: string; triggerId: string }[];
  // biome-ignore lint/suspicious/noExplicitAny: stage reports and live state are free-form JSON
  readonly reports: Record<string, any>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  readonly live: any;
  readonly audit: { kind: string; actor: string; reason: string | null }[];
}

export async function registerModel(api: ApiCall, name: string, dataUri: string, policy: PolicyInput) {
  return expectStatus(await api('POST', '/v1/models', { name, dataUri, policy }), 201);
}

export async function trigger(
  api: ApiCall,
  model: string,
  body: { reason: string; details?: Record<string, unknown>; dedupKey?: string },
): Promise<{ triggerId: string; fate: string; runId: string }> {
  return expectStatus(await api('POST', `/v1/models/${model}/triggers`, body), 202, 200);
}

export async function getRun(api: ApiCall, model: string, runId: string) {
  return expectStatus(await api('GET', `/v1/models/${model}/runs/${runId}`), 200);
}

/** Polls the run until `predicate` holds (or the run ends, or time runs out). */
export async function waitForRun(
  api: ApiCall,
  model: string,
  runId: string,
  predicate: (run: RunView) => boolean,
  opts: { timeoutMs?: number; onChange?: (run: RunView) => void } = {},
): Promise<RunView> {
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  let lastStage = '';
  for (;;) {
    const res = await api<RunView>('GET', `/v1/models/${model}/runs/${runId}`);
    if (res.status === 200) {
      const run = res.body;
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
  api: ApiCall,
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
    const res = await api('POST', `/v1/models/${model}/predict`, { features, key: `user-${sent}` });
    sent += 1;
    if (res.status === 200) {
      byVersion[res.body.version] = (byVersion[res.body.version] ?? 0) + 1;
      await api('POST', `/v1/models/${model}/feedback`, {
        predictionId: res.body.predictionId,
        label: Number(row[labelIndex]),
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
  approver: ApiCall,
  model: string,
  runId: string,
  decision: 'approve' | 'reject',
  reason?: string,
) {
  return approver('POST', `/v1/models/${model}/runs/${runId}/${decision}`, { reason });
}

/**
 * Registers a model and takes its first run through to `promoted`, so that a
 * story can start from "there is a champion in production".
 */
export async function bootstrapChampion(
  api: ApiCall,
  model: string,
  dataUri: string,
  policy: PolicyInput,
  approver?: ApiCall,
) {
  await registerModel(api, model, dataUri, policy);
  const { runId } = await trigger(api, model, { reason: 'manual' });
  const approvalNeeded = (policy.approval as { required?: boolean } | undefined)?.required !== false;
  if (approvalNeeded) {
    if (!approver) throw new Error('bootstrapChampion: the policy needs an approval; pass an approver');
    await waitForRun(api, model, runId, inStage('approve'));
    expectStatus(await decide(approver, model, runId, 'approve', 'first model'), 200);
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
export async function waitForModelToLetGo(api: ApiCall, model: string, runId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const state = (await api('GET', `/v1/models/${model}/runs`)).body.workflow;
    if (state?.current?.runId !== runId) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the model workflow of ${model} still holds run ${runId} after 5 s`);
}
