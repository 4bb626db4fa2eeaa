import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Api } from '../../api/client';
import type { PolicyInput } from '../../domain/policy';
import { watchesFor } from '../../domain/watch-plan';
import {
  decide,
  expectStatus,
  fastPolicy,
  hasEnded,
  inStage,
  type RunView,
  registerModel,
  trigger,
  waitForModelToLetGo,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { runWorkflowId } from '../../workflows/messages';
import type { TimeSkippingStack } from './time-skipping';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/**
 * The most history events a run may have whose rollout waits `waits`
 * (seconds, looked at every `pollSeconds`). A watch costs its activity's
 * three events and a workflow task's three (8 allowed); everything else in a
 * run (training, evaluation, approval rounds, canary questions, the
 * promotion or its undoing) stays under 400. Looking at the traffic from the
 * workflow's own code cost ~11 events a look: every bound here is several
 * times below that.
 */
export function rolloutEventBound(waits: ReadonlyArray<{ seconds: number; pollSeconds: number }>): number {
  const watches = waits.reduce((n, w) => n + watchesFor(w.seconds, w.pollSeconds), 0);
  return 8 * watches + 400;
}

/** A champion's data and a drifted batch the candidate trains on, in the stack's data folder. */
export async function writeRunData(ts: Pick<TimeSkippingStack, 'dataDir'>) {
  return {
    baseline: await writeDataset(ts.dataDir, 'baseline', { rows: 1500, seed: 61 }),
    drifted: await writeDataset(ts.dataDir, 'drifted', { rows: 1500, seed: 62, shift: 1.5 }),
  };
}

/**
 * The README's example policy, at its real durations: two reviewers within
 * 24 h (a reminder an hour before), then one lead within 4 h; canary steps of
 * up to 10 minutes, looked at every 5 s, a human asked when a step cannot
 * decide; an hour's bake. Only the data's schema, the training and the
 * evaluation gate are the test data's (as in `fastPolicy`).
 */
export function readmePolicy(overrides: { canary?: object; bake?: object; approval?: object } = {}) {
  const fast = fastPolicy();
  return {
    schema: fast.schema,
    validation: fast.validation,
    training: fast.training,
    evaluation: fast.evaluation,
    approval: {
      required: true,
      approvers: 2,
      role: 'approver',
      group: 'ml-reviewers',
      fourEyes: true,
      timeoutSeconds: 86_400,
      reminderBeforeSeconds: 3600,
      onExpiry: 'escalate',
      escalation: { group: 'ml-leads', approvers: 1, timeoutSeconds: 14_400 },
      ...overrides.approval,
    },
    canary: {
      steps: [10, 50, 100],
      minRequests: 50,
      minLabelled: 50,
      stepMinSeconds: 0,
      stepMaxSeconds: 600,
      pollSeconds: 5,
      onInconclusive: 'ask',
      ask: { approvers: 1, role: 'approver', timeoutSeconds: 3600, onExpiry: 'rollback' },
      ...overrides.canary,
    },
    bake: { seconds: 3600, regressionCheck: true, pollSeconds: 5, ...overrides.bake },
  } as PolicyInput;
}

/**
 * A model with a champion in production (its first run approved by the two
 * reviewers) and a retrain on drifted data waiting for approval.
 */
export async function candidateAwaitingApproval(
  ts: TimeSkippingStack,
  model: string,
  data: { baseline: string; drifted: string },
  policy: PolicyInput,
): Promise<{ runId: string; workflowId: string; openedAt: number; run: RunView }> {
  const api = ts.api();
  await registerModel(api, model, data.baseline, policy);
  const first = await trigger(api, model, { reason: 'manual' });
  await waitForRun(api, model, first.runId, inStage('approve'));
  for (const who of ['alice', 'bob'] as const) {
    expectStatus(await decide(ts.api(who), model, first.runId, 'approve', 'first model'), 200);
  }
  const bootstrapped = await waitForRun(api, model, first.runId, hasEnded);
  if (bootstrapped.outcome !== 'promoted') throw new Error(`bootstrap run ended ${bootstrapped.outcome}`);
  await waitForModelToLetGo(api, model, first.runId);
  const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: data.drifted } });
  const run = await waitForRun(
    api,
    model,
    runId,
    (r) => r.stage === 'approve' && Boolean(r.live?.approval?.deadline),
  );
  return { runId, workflowId: runWorkflowId(model, runId), openedAt: await ts.now(), run };
}

/** The two reviewers approve: the run goes on to its canary. */
export async function approveByReviewers(ts: TimeSkippingStack, model: string, runId: string) {
  for (const who of ['alice', 'bob'] as const) {
    expectStatus(await decide(ts.api(who), model, runId, 'approve', 'looks good'), 200);
  }
}

/**
 * Waits while the canary's watch moves the server's clock through the step
 * at `weight` % (minutes of server time in a few seconds), until the run asks
 * about it; then `approver` answers "go on".
 */
export async function answerCanaryQuestion(
  ts: TimeSkippingStack,
  model: string,
  runId: string,
  weight: number,
  approver: Api,
): Promise<RunView> {
  const run = await waitForRun(
    ts.api(),
    model,
    runId,
    (r) =>
      r.live?.approval?.purpose === 'canary' &&
      r.live.approval.decision === null &&
      Boolean(r.live.approval.question?.includes(`at ${weight} %`)),
  );
  expectStatus(await decide(approver, model, runId, 'approve', 'go on'), 200);
  return run;
}

/** A webhook receiver keeping every notification's body. */
export async function startWebhookReceiver() {
  const received: { event: string; at: string; data: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    /** Notifications of one run, in the order the run sent them (by their workflow time). */
    of(runId: string) {
      return received
        .filter((n) => (n as { runId?: string }).runId === runId)
        .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Waits (real time) until `check` holds, for deliveries that happen after a run ends. */
export async function eventually<T>(check: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 100));
  }
}
