import { type Client, ServiceError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { inProcessApi } from '../../api/client';
import { triggers } from '../../db/schema';
import {
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  registerModel,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { submitTrigger } from '../../triggers/submit-trigger';
import { modelStateQuery, modelWorkflowId, type TriggerBatchItem } from '../../workflows/messages';
import { startModelWorkflow } from '../helpers/model-workflow';
import { type Stack, startStack } from '../helpers/stack';

describe('triggers: one run at a time, one follow-up run, deduplicated alerts', () => {
  let stack: Stack;
  let api: ReturnType<typeof inProcessApi>;
  let data: string;
  beforeAll(async () => {
    stack = await startStack();
    api = stack.api();
    data = await writeDataset(stack.dataDir, 'data', { rows: 1000, seed: 31 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('turns three triggers during a run into exactly one follow-up run carrying all their causes', async () => {
    const model = 'coalesce';
    await registerModel(api, model, data, fastPolicy());
    const first = await trigger(api, model, { reason: 'manual' });
    expect(first.fate).toBe('started');
    await waitForRun(api, model, first.runId, inStage('approve'));

    const during = [];
    for (const [reason, caller] of [
      ['drift', 'monitor'],
      ['performance', 'monitor'],
      ['schedule', 'olga'],
    ] as const) {
      during.push(await trigger(stack.api(caller), model, { reason }));
    }
    expect(during.map((t) => t.fate)).toEqual(['queued', 'joined', 'joined']);
    const followUp = during[0]!.runId;
    expect(new Set(during.map((t) => t.runId))).toEqual(new Set([followUp]));
    expect(followUp).not.toBe(first.runId);

    expect((await decide(stack.api('bob'), model, first.runId, 'reject', 'not now')).status).toBe(200);
    await waitForRun(api, model, first.runId, hasEnded);

    const next = await waitForRun(api, model, followUp, inStage('approve'));
    expect(next.causes.map((c: { reason: string }) => c.reason)).toEqual([
      'drift',
      'performance',
      'schedule',
    ]);
    expect(next.causes.map((c: { triggerId: string }) => c.triggerId)).toEqual(
      during.map((t) => t.triggerId),
    );
    await decide(stack.api('bob'), model, followUp, 'reject', 'still not now');
    await waitForRun(api, model, followUp, hasEnded);

    // Exactly two runs: the first and one follow-up.
    const runs = (await api('GET', `/v1/models/${model}/runs`)).body.runs;
    expect(runs.map((r: { id: string }) => r.id).sort()).toEqual([first.runId, followUp].sort());
    // The run's record ends a moment before its parent workflow sees the child complete.
    await expect
      .poll(async () => (await api('GET', `/v1/models/${model}/runs`)).body.workflow)
      .toMatchObject({ current: null, pending: null, completedRuns: 2 });
  });

  it('answers a re-delivered alert (same dedupKey) with the first trigger and starts nothing new', async () => {
    const model = 'dedup';
    await registerModel(api, model, data, fastPolicy());
    const alert = { reason: 'drift', dedupKey: 'monitor-42/2026-11-23T10:00' };
    const first = await api('POST', `/v1/models/${model}/triggers`, alert);
    const again = await api('POST', `/v1/models/${model}/triggers`, alert);

    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    // Every trigger is recorded; the duplicate names the first one and its run.
    expect(again.body).toMatchObject({
      fate: 'deduplicated',
      duplicateOf: first.body.triggerId,
      runId: first.body.runId,
    });
    expect(again.body.triggerId).not.toBe(first.body.triggerId);
    const state = (await api('GET', `/v1/models/${model}/runs`)).body.workflow;
    expect(state.pending).toBeNull();
    expect(state.current.causes).toHaveLength(1);
    await waitForRun(api, model, first.body.runId, inStage('approve'));
    await decide(stack.api('bob'), model, first.body.runId, 'reject');
    expect((await waitForRun(api, model, first.body.runId, hasEnded)).causes).toHaveLength(1);
  });

  it('continues as new between runs without losing the queued follow-up', async () => {
    const model = 'long-lived';
    await registerModel(api, model, data, fastPolicy());
    // Start the model's workflow as the API would, but make it continue as new after every run.
    const handle = await startModelWorkflow(stack, model, { maxRunsPerExecution: 1 });
    const first = await trigger(api, model, { reason: 'manual' });
    await waitForRun(api, model, first.runId, inStage('approve'));
    const second = await trigger(api, model, { reason: 'drift', dedupKey: 'monitor/alert-1' });
    expect(second.fate).toBe('queued');
    const executionBefore = (await handle.describe()).runId;

    await decide(stack.api('bob'), model, first.runId, 'reject');
    await waitForRun(api, model, second.runId, inStage('approve'));

    const latest = stack.client.workflow.getHandle(modelWorkflowId(model));
    expect((await latest.describe()).runId).not.toBe(executionBefore);
    const state = await latest.query(modelStateQuery);
    expect(state.completedRuns).toBe(1);
    expect(state.current?.runId).toBe(second.runId);
    // Governance state crosses the boundary too: the alert's dedup key is still remembered.
    expect(state.runsLast24h).toBe(2);
    const redelivered = await trigger(api, model, { reason: 'drift', dedupKey: 'monitor/alert-1' });
    expect(redelivered).toMatchObject({ fate: 'deduplicated', runId: second.runId });
    await decide(stack.api('bob'), model, second.runId, 'reject');
    expect((await waitForRun(api, model, second.runId, hasEnded)).outcome).toBe('rejected_approval');
  });

  it('a trigger Postgres refuses fails alone; the others of its batch are stored and answered', async () => {
    const model = 'batch-poison';
    await registerModel(api, model, data, fastPolicy());
    const deps = { db: stack.database.db, temporal: stack.client, taskQueues: stack.taskQueues };
    // Sent together: the first goes at once, the other five are stored as one batch and travel as one.
    const sent = Array.from({ length: 6 }, (_, i) =>
      submitTrigger(deps, model, {
        reason: 'drift',
        requestedBy: 'monitor',
        // An activity could pass what the API refuses (the API answers 400 for a NUL character).
        details: { alert: i === 4 ? 'bad\u0000alert' : `alert-${i}` },
        dedupKey: `poison-${i}`,
      }),
    );
    const settled = await Promise.allSettled(sent);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const answers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.body] : []));
    const fates = answers.map((a) => a.fate).sort();
    expect(fates).toEqual(['joined', 'joined', 'joined', 'queued', 'started']);
    const alertOf = (details: unknown) => (details as { alert: string }).alert;
    const rows = await stack.database.db.select().from(triggers).where(eq(triggers.model, model));
    expect(rows.map((r) => alertOf(r.details)).sort()).toEqual([
      'alert-0',
      'alert-1',
      'alert-2',
      'alert-3',
      'alert-5',
    ]);
    expect(rows.map((r) => r.fate).sort()).toEqual(fates);
    const state = await stack.client.workflow.getHandle(modelWorkflowId(model)).query(modelStateQuery);
    expect(
      [...state.current!.causes, ...state.pending!.causes].map((c) => alertOf(c.details)).sort(),
    ).toEqual(['alert-0', 'alert-1', 'alert-2', 'alert-3', 'alert-5']);
  });

  it('stores the triggers that arrive while an update waits, then hands them over together', async () => {
    const model = 'stalled-update';
    await registerModel(api, model, data, fastPolicy());
    const deps = { db: stack.database.db, temporal: stack.client, taskQueues: stack.taskQueues };
    const submit = (alert: string) =>
      submitTrigger(deps, model, {
        reason: 'drift',
        requestedBy: 'monitor',
        details: { alert },
        dedupKey: alert,
      });
    const first = await submit('first');
    expect(first.body.fate).toBe('started');

    // No control worker: the next update waits for one.
    await stack.stopWorkers();
    const waiting = submit('waits');
    let waited = false;
    void waiting.then(() => {
      waited = true;
    });
    await waitForRows(model, 2);
    const during = [submit('during-1'), submit('during-2')];
    // Recorded (as received) while the update before them is still unanswered.
    const rows = await waitForRows(model, 4);
    expect(
      rows
        .filter((r) => r.fate === 'received')
        .map((r) => (r.details as { alert: string }).alert)
        .sort(),
    ).toEqual(['during-1', 'during-2', 'waits']);
    expect(waited).toBe(false);

    await stack.startWorkers();
    const answers = await Promise.all([waiting, ...during]);
    expect(answers.map((a) => a.body.fate)).toEqual(['queued', 'joined', 'joined']);
    const stored = await stack.database.db
      .select({ id: triggers.id, fate: triggers.fate })
      .from(triggers)
      .where(
        inArray(
          triggers.id,
          answers.map((a) => a.body.triggerId),
        ),
      );
    expect(stored.map((r) => r.fate).sort()).toEqual(['joined', 'joined', 'queued']);

    // One update for the trigger that waited, one for the two that came meanwhile.
    const history = await stack.client.workflow.getHandle(modelWorkflowId(model)).fetchHistory();
    const batches = (history.events ?? []).flatMap((e) => {
      const args = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads;
      if (
        e.eventType !== temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED ||
        !args
      )
        return [];
      const items = defaultPayloadConverter.fromPayload<TriggerBatchItem[]>(args[0]!);
      return [items.map((i) => (i.cause.details as { alert: string }).alert)];
    });
    expect(batches).toEqual([['first'], ['waits'], ['during-1', 'during-2']]);
  });

  it('sends a batch again when the server aborted its update with the workflow task, and nothing else', async () => {
    // What the server answers when the task carrying an update failed (a signal arrived while
    // the task that continues as new completed): the update was not applied.
    const abortedWithTask = () =>
      new ServiceError('Workflow Update failed', {
        cause: Object.assign(new Error('9 FAILED_PRECONDITION'), {
          code: 9,
          details: 'Unable to perform workflow execution update due to unexpected workflow task failure.',
        }),
      });
    const otherPrecondition = () =>
      new ServiceError('Workflow Update failed', {
        cause: Object.assign(new Error('9 FAILED_PRECONDITION'), {
          code: 9,
          details: 'namespace is not active',
        }),
      });
    const submit = async (model: string, failures: (() => Error)[]) => {
      await registerModel(api, model, data, fastPolicy());
      await startModelWorkflow(stack, model, {});
      const deps = {
        db: stack.database.db,
        temporal: failingUpdates(stack.client, failures),
        taskQueues: stack.taskQueues,
      };
      return submitTrigger(deps, model, { reason: 'drift', requestedBy: 'monitor', details: {} });
    };

    const failures = [abortedWithTask, abortedWithTask];
    const answer = await submit('task-aborted', failures);
    expect(failures).toHaveLength(0);
    expect(answer.body.fate).toBe('started');
    const [row] = await stack.database.db
      .select()
      .from(triggers)
      .where(eq(triggers.id, answer.body.triggerId));
    expect(row).toMatchObject({ fate: 'started', runId: answer.body.runId });

    const once = [otherPrecondition, abortedWithTask];
    await expect(submit('not-retried', once)).rejects.toThrow('Workflow Update failed');
    expect(once).toHaveLength(1);
    const rows = await stack.database.db.select().from(triggers).where(eq(triggers.model, 'not-retried'));
    expect(rows.map((r) => r.fate)).toEqual(['failed_to_deliver']);
  });

  /**
   * The stack's client, whose model-workflow updates throw the next of `failures` (taking it
   * off the list) before any reaches the server, then go through.
   */
  function failingUpdates(client: Client, failures: (() => Error)[]): Client {
    const handleOf = (handle: object) =>
      new Proxy(handle, {
        get(target, prop) {
          const value = Reflect.get(target, prop);
          if (prop === 'executeUpdate' && failures.length > 0) {
            return async () => {
              throw failures.shift()!();
            };
          }
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const workflow = new Proxy(client.workflow, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (prop === 'getHandle')
          return (...args: Parameters<typeof target.getHandle>) => handleOf(target.getHandle(...args));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return new Proxy(client, {
      get: (target, prop) => (prop === 'workflow' ? workflow : Reflect.get(target, prop)),
    });
  }

  /** Polls the model's trigger rows until there are `n`. */
  async function waitForRows(model: string, n: number) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const rows = await stack.database.db.select().from(triggers).where(eq(triggers.model, model));
      if (rows.length >= n) return rows;
      if (Date.now() > deadline) throw new Error(`${rows.length} trigger rows of ${model}, expected ${n}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});
