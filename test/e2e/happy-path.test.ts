import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapChampion,
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  sendTraffic,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { modelWorkflowId, runWorkflowId } from '../../workflows/messages';
import { recordHistory, recordingHistories } from '../helpers/histories';
import { type Stack, startStack } from '../helpers/stack';

describe('a drift alert retrains, an approver signs off, the canary passes and the new model is promoted', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('runs every stage through the HTTP API and records lineage and the approval', async () => {
    const api = stack.api();
    const model = 'churn-happy';
    const before = await writeDataset(stack.dataDir, 'before', { rows: 1500, seed: 1 });
    const after = await writeDataset(stack.dataDir, 'after', { rows: 1500, seed: 2, shift: 1.5 });
    const first = await bootstrapChampion(api, model, before, fastPolicy(), stack.api('alice'));
    expect(first.candidateVersion).toBe(1);

    const triggered = await trigger(stack.api('monitor'), model, {
      reason: 'drift',
      details: { dataUri: after, psi: 0.31, feature: 'x1' },
    });
    expect(triggered.fate).toBe('started');
    const runId = triggered.runId;

    const waiting = await waitForRun(api, model, runId, inStage('approve'));
    expect(waiting.reports.validation.ok).toBe(true);
    expect(waiting.reports.evaluation.verdict.decision).toBe('pass');
    expect(waiting.reports.evaluation.candidate.accuracy).toBeGreaterThan(
      waiting.reports.evaluation.champion.accuracy,
    );
    expect(waiting.live.approval.deadline).toBeTruthy();
    // The gain is tested, not just measured: McNemar's test on the paired hold-out predictions.
    const primary = waiting.reports.evaluation.gate.primary;
    expect(primary).toMatchObject({ metric: 'accuracy', significant: true });
    expect(primary.test.pValue).toBeLessThan(0.05);
    expect(primary.test.method).toMatch(/exact|chi2/);

    // The approver's inbox shows the run with what they need to decide.
    const inbox = (await api('GET', '/v1/approvals')).body.approvals;
    expect(inbox).toEqual([
      expect.objectContaining({
        model,
        runId,
        candidateVersion: 2,
        championVersion: 1,
        evaluation: expect.objectContaining({ decision: 'pass' }),
        deadline: waiting.live.approval.deadline,
      }),
    ]);
    expect(inbox[0].candidate.accuracy).toBeGreaterThan(inbox[0].champion.accuracy);

    const approved = await decide(stack.api('alice'), model, runId, 'approve', 'better on drifted data');
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ approval: { decision: 'approve', by: 'alice' } });

    let done = false;
    const traffic = sendTraffic(api, model, await readFile(after, 'utf8'), () => done);
    const run = await waitForRun(api, model, runId, hasEnded);
    done = true;
    const sent = await traffic;

    expect(run.outcome).toBe('promoted');
    expect(run.reports.canary.map((s: { weight: number }) => s.weight)).toEqual([10, 50]);
    expect(run.reports.canary.every((s: { verdict: string }) => s.verdict === 'pass')).toBe(true);
    // Both versions really served traffic during the canary.
    expect(sent.byVersion['1']).toBeGreaterThan(0);
    expect(sent.byVersion['2']).toBeGreaterThan(0);

    const registered = await api('GET', `/v1/models/${model}`);
    expect(registered.body.champion).toBe(2);
    expect((await api('GET', '/v1/approvals')).body.approvals).toEqual([]);
    const served = await api('POST', `/v1/models/${model}/predict`, {
      features: { x1: 1, x2: 0, x3: 0, x4: 0 },
    });
    expect(served.body.version).toBe(2);

    const lineage = (await api('GET', `/v1/models/${model}/versions/2`)).body;
    expect(lineage.runId).toBe(runId);
    expect(lineage.dataUri).toBe(after);
    expect(lineage.dataHash).toMatch(/^[0-9a-f]{64}$/);
    expect(lineage.codeVersion).toBe('test');
    expect(lineage.params).toMatchObject({ trainer: 'builtin-logreg', epochs: 150 });
    expect(lineage.lineage.triggers).toEqual([
      expect.objectContaining({ reason: 'drift', requestedBy: 'monitor', fate: 'started' }),
    ]);
    expect(lineage.lineage.aliasChanges).toEqual([expect.objectContaining({ fromVersion: 1, toVersion: 2 })]);
    const approval = lineage.lineage.audit.find((e: { kind: string }) => e.kind === 'approval');
    expect(approval).toMatchObject({ actor: 'alice', reason: 'better on drifted data' });

    if (recordingHistories) {
      await recordHistory(stack, 'run-promoted', runWorkflowId(model, runId));
      await recordHistory(stack, 'model-two-runs', modelWorkflowId(model));
    }
  });
});
