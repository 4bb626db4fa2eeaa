import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapChampion,
  fastPolicy,
  getRun,
  inStage,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { runWorkflowId } from '../../workflows/messages';
import { type Stack, startStack } from '../helpers/stack';

/**
 * Validation and evaluation grow with the data. They run on threads of their
 * own and heartbeat, so the control worker that also runs every workflow keeps
 * answering operators while a large dataset is scored.
 */
describe('heavy activities off the control loop', () => {
  let stack: Stack;
  let big: string;
  let small: string;
  let smallDrifted: string;
  beforeAll(async () => {
    stack = await startStack();
    small = await writeDataset(stack.dataDir, 'small', { rows: 1500, seed: 61 });
    smallDrifted = await writeDataset(stack.dataDir, 'small-drifted', { rows: 1500, seed: 63, shift: 1.5 });
    big = await writeDataset(stack.dataDir, 'million', { rows: 1_000_000, seed: 62, shift: 1.5 });
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
  });

  /** Milliseconds a call takes, and its answer. */
  async function timed<T>(call: () => Promise<T>): Promise<[T, number]> {
    const start = performance.now();
    const answer = await call();
    return [answer, performance.now() - start];
  }

  it('answers a query and control updates on another run within a second while a million-row evaluation runs', async () => {
    const api = stack.api();
    // Few epochs: the training on 800,000 rows is not what this test is about.
    const policy = fastPolicy({
      validation: { minRows: 200 },
      training: { params: { epochs: 3, learningRate: 0.5, l2: 0.001, seed: 7 }, checkpointEvery: 3 },
      approval: { required: true, timeoutSeconds: 3600 },
    });
    await bootstrapChampion(api, 'big-data', small, policy, stack.api('alice'));
    await bootstrapChampion(api, 'other', small, policy, stack.api('alice'));
    const other = await trigger(api, 'other', { reason: 'drift', details: { dataUri: smallDrifted } });
    await waitForRun(api, 'other', other.runId, inStage('approve'));

    const heavy = await trigger(api, 'big-data', { reason: 'drift', details: { dataUri: big } });
    await waitForRun(api, 'big-data', heavy.runId, inStage('evaluate'), { timeoutMs: 240_000 });

    const queries: number[] = [];
    const updates: number[] = [];
    for (let round = 0; round < 3; round++) {
      const [run, queryMs] = await timed(() => getRun(api, 'other', other.runId));
      expect(run.live.stage).toBe('approve');
      queries.push(queryMs);
      for (const action of ['freeze', 'unfreeze'] as const) {
        const [res, updateMs] = await timed(() =>
          stack.api('olga')('POST', `/v1/models/other/${action}`, { reason: `round ${round}` }),
        );
        expect(res.status).toBe(200);
        updates.push(updateMs);
      }
    }
    // The evaluation was still running throughout, heartbeating its phase.
    const evaluating = await stack.client.workflow
      .getHandle(runWorkflowId('big-data', heavy.runId))
      .describe();
    const activity = evaluating.raw.pendingActivities?.find(
      (a) => a.activityType?.name === 'evaluateCandidate',
    );
    expect(activity, 'evaluateCandidate is still running').toBeDefined();
    expect(activity!.lastHeartbeatTime).toBeTruthy();
    console.info(
      `during a 1,000,000-row evaluation: query ${queries.map((q) => q.toFixed(0)).join(', ')} ms; ` +
        `freeze/unfreeze updates ${updates.map((u) => u.toFixed(0)).join(', ')} ms`,
    );
    expect(Math.max(...queries)).toBeLessThan(1000);
    expect(Math.max(...updates)).toBeLessThan(1000);

    // The approval update on the other run is answered at once too, and the big run completes its gate.
    const [decision, decideMs] = await timed(() =>
      stack.api('alice')('POST', `/v1/models/other/runs/${other.runId}/approve`, { reason: 'fine' }),
    );
    expect(decision.status).toBe(200);
    expect(decideMs).toBeLessThan(1000);
    const done = await waitForRun(api, 'big-data', heavy.runId, (r) => r.stage !== 'evaluate', {
      timeoutMs: 240_000,
    });
    expect(done.reports.evaluation.holdoutRows).toBe(200_000);
  }, 600_000);
});
