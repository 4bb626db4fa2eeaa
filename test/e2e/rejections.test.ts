import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { inProcessApi } from '../../api/client';
import {
  bootstrapChampion,
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { rejectSignal, runWorkflowId } from '../../workflows/messages';
import { recordRunHistory } from '../helpers/histories';
import { type Stack, startStack } from '../helpers/stack';

describe('runs that must not promote end in the right rejection, and the champion stays', () => {
  let stack: Stack;
  let api: ReturnType<typeof inProcessApi>;
  let baseline: string;
  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 11 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const champion = async (model: string) => (await api('GET', `/v1/models/${model}`)).body.champion;

  it('rejects data that breaks the declared schema (rejected_data), with a report naming the problem', async () => {
    const model = 'reject-data';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    const good = await readFile(baseline, 'utf8');
    // A producer renamed a column and started sending text in another.
    const broken = good.replace('x4', 'x4_renamed').replace(/\n(-?[0-9.]+),/, '\nnot-a-number,');
    const file = path.join(stack.dataDir, 'broken.csv');
    await writeFile(file, broken);

    const { runId } = await trigger(api, model, { reason: 'schedule', details: { dataUri: file } });
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('rejected_data');
    await recordRunHistory(stack, 'run-rejected-data', runWorkflowId(model, runId));
    expect(run.outcomeReason).toMatch(/x4/);
    expect(run.outcomeReason).toMatch(/x1/);
    const failed = run.reports.validation.report.checks.filter((c: { ok: boolean }) => !c.ok);
    expect(failed.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['schema', 'type:x1']),
    );
    expect(await champion(model)).toBe(1);
    expect((await api('GET', `/v1/models/${model}/versions`)).body.versions).toHaveLength(1);
  });

  it('rejects a candidate worse than the champion (rejected_eval) without touching the champion', async () => {
    const model = 'reject-eval';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    // Someone cut training to two tiny steps: the candidate cannot be better.
    const weak = fastPolicy({ training: { params: { epochs: 2, learningRate: 0.001, l2: 0, seed: 7 } } });
    expect((await api('PUT', `/v1/models/${model}`, { policy: weak })).status).toBe(200);

    const { runId } = await trigger(api, model, { reason: 'performance', details: { accuracy: 0.71 } });
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('rejected_eval');
    await recordRunHistory(stack, 'run-rejected-eval', runWorkflowId(model, runId));
    const evaluation = run.reports.evaluation;
    expect(evaluation.candidate.accuracy).toBeLessThan(evaluation.champion.accuracy);
    expect(run.outcomeReason).toMatch(/candidate accuracy/);
    expect(await champion(model)).toBe(1);
    // The candidate is registered (lineage) with its evaluation, but never served.
    const v2 = (await api('GET', `/v1/models/${model}/versions/2`)).body;
    expect(v2.evaluation.verdict.decision).toBe('fail');
  });

  it('ends rejected_approval when an approver rejects, recording who and why', async () => {
    const model = 'reject-approval';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    const drifted = await writeDataset(stack.dataDir, 'drifted-a', { rows: 1500, seed: 12, shift: 1.5 });
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, inStage('approve'));

    const res = await decide(stack.api('carol'), model, runId, 'reject', 'wait for the quarter close');
    expect(res.status).toBe(200);
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('rejected_approval');
    await recordRunHistory(stack, 'run-rejected-approval', runWorkflowId(model, runId));
    expect(run.outcomeReason).toBe('rejected by carol: wait for the quarter close');
    expect(run.audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'rejection',
          actor: 'carol',
          reason: 'wait for the quarter close',
        }),
      ]),
    );
    expect(await champion(model)).toBe(1);
    // A second decision on an ended run is refused, not lost or applied.
    const late = await decide(stack.api('alice'), model, runId, 'approve');
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'run_ended' } });
  });

  it('ends rejected_approval when nobody decides before the deadline', async () => {
    const model = 'reject-expired';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    await api('PUT', `/v1/models/${model}`, {
      policy: fastPolicy({ approval: { required: true, timeoutSeconds: 2 } }),
    });
    const drifted = await writeDataset(stack.dataDir, 'drifted-b', { rows: 1500, seed: 13, shift: 1.5 });
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });

    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('rejected_approval');
    await recordRunHistory(stack, 'run-approval-expired', runWorkflowId(model, runId));
    expect(run.outcomeReason).toMatch(/no decision before the deadline/);
    expect(run.audit).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'approval_expired', actor: 'ctloop' })]),
    );
    expect(await champion(model)).toBe(1);
  });

  it('takes a decision signalled from the Temporal UI, audits a malformed one, and is findable by CtOutcome', async () => {
    const model = 'reject-signal';
    await bootstrapChampion(api, model, baseline, fastPolicy(), stack.api('alice'));
    const drifted = await writeDataset(stack.dataDir, 'drifted-c', { rows: 1500, seed: 14, shift: 1.5 });
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: drifted } });
    await waitForRun(api, model, runId, inStage('approve'));
    const handle = stack.client.workflow.getHandle(runWorkflowId(model, runId));

    // What an approver types in the UI's "Send a Signal" form; the first one forgot `by`, the
    // second names nobody ctloop knows.
    await handle.signal(rejectSignal, { by: '', reason: 'oops' });
    await handle.signal(rejectSignal, { by: 'oncall-gina', reason: 'not an approver' });
    await handle.signal(rejectSignal, { by: 'carol', reason: 'incident freeze' });
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('rejected_approval');
    expect(run.outcomeReason).toBe('rejected by carol: incident freeze');
    expect(run.audit.filter((e: { kind: string }) => e.kind === 'rejection')).toEqual([
      expect.objectContaining({ actor: 'carol' }),
    ]);
    expect(run.audit.filter((e: { kind: string }) => e.kind === 'vote_refused')).toEqual([
      expect.objectContaining({ actor: 'oncall-gina', reason: 'oncall-gina is not a known identity' }),
    ]);
    // The one without `by` cannot be answered, so the audit trail says why it was refused.
    expect(run.audit.filter((e: { kind: string }) => e.kind === 'signal_refused')).toEqual([
      expect.objectContaining({
        actor: 'unknown',
        reason: 'reject signal refused: a decision needs `by`, who decides',
      }),
    ]);
    // Operators filter runs in the UI by the search attributes the run upserts.
    const query = `CtModel = '${model}' AND CtOutcome = 'rejected_approval' AND CtStage = 'done' AND CtTrigger = 'drift'`;
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const wf of stack.client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toEqual([runWorkflowId(model, runId)]);
  });

  it('will not promote a gain it cannot tell from chance (inconclusive), and says so', async () => {
    const model = 'reject-inconclusive';
    // Demand a gain of one point, significant at a very strict level, on a hold-out of 60 rows.
    const strict = fastPolicy({
      evaluation: { minImprovement: 0.01, alpha: 0.0001, minimums: { accuracy: 0.7 } },
    });
    await bootstrapChampion(api, model, baseline, strict, stack.api('alice'));
    const small = await writeDataset(stack.dataDir, 'drifted-small', { rows: 300, seed: 15, shift: 0.6 });
    const { runId } = await trigger(api, model, { reason: 'drift', details: { dataUri: small } });
    const run = await waitForRun(api, model, runId, hasEnded);

    expect(run.outcome).toBe('rejected_eval');
    // Seeded data: the candidate is 5 points better on 60 rows, from only 11 discordant pairs.
    const gate = run.reports.evaluation.gate;
    expect(gate.decision).toBe('inconclusive');
    expect(gate.primary.improvement).toBeGreaterThanOrEqual(0.01);
    expect(gate.primary).toMatchObject({ significant: false, test: { kind: 'mcnemar', method: 'exact' } });
    expect(gate.primary.test.pValue).toBeGreaterThan(0.0001);
    expect(run.outcomeReason).toMatch(/discordant pairs/);
    expect(await champion(model)).toBe(1);
  });
});
