/**
 * The chaos soak's judge (bench/lib/chaos/invariants.ts) on a real registry
 * and Temporal: it passes the state a real run leaves behind, and each kind
 * of damage the soak looks for (a trigger without a fate, a run without an
 * outcome, a second promotion, a repeated audit event, a version that is not
 * its run's candidate, a champion alias the gateway does not serve) makes
 * exactly the invariant that names it fail.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants } from '../../bench/lib/chaos/invariants';
import type { SentTrigger } from '../../bench/lib/chaos/scenarios';
import { bootstrapChampion, fastPolicy, writeDataset } from '../../scripts/lib/scenario';
import { type Stack, startStack } from '../helpers/stack';

describe('the chaos soak invariants', () => {
  let stack: Stack;
  let db: pg.Client;
  let runId: string;
  const sent: SentTrigger[] = [];
  const model = 'judged';

  beforeAll(async () => {
    stack = await startStack();
    const data = await writeDataset(stack.dataDir, 'judged', { rows: 1500, seed: 31 });
    const run = await bootstrapChampion(stack.api(), model, data, fastPolicy(), stack.api('alice'));
    runId = run.id;
    const trigger = run.causes[0]!;
    sent.push({ model, status: 202, triggerId: trigger.triggerId, fate: 'started', runId });
    db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await stack?.close();
  });

  const judge = async (sentTriggers: SentTrigger[] = sent) =>
    checkInvariants({
      databaseUrl: stack.databaseUrl!,
      temporal: stack.client,
      apis: [stack.api('vera')],
      sentTriggers,
      taskQueue: stack.taskQueues.control,
    });
  const failing = (result: Awaited<ReturnType<typeof judge>>) =>
    Object.entries(result)
      .filter(([, v]) => !v.ok)
      .map(([k]) => k);

  /** Applies `damage`, judges, and repairs it again with `repair`. */
  async function withDamage(damage: string, repair: string, sentTriggers?: SentTrigger[]) {
    await db.query(damage, [runId]);
    try {
      return await judge(sentTriggers);
    } finally {
      await db.query(repair, [runId]);
    }
  }

  it('pass on what a promoted run leaves behind', async () => {
    const result = await judge();
    expect(failing(result)).toEqual([]);
    expect(result.everyRunEndsWithExactlyOneOutcome.checked).toBeGreaterThanOrEqual(2); // the run and its model
    expect(result.noDuplicatePromotions.checked).toBe(1);
    expect(result.championRoutingAndServingAgree.checked).toBe(1);
  });

  it('catch a trigger that never got its fate, and an answer the registry does not keep', async () => {
    const stuck = await withDamage(
      `insert into triggers (model, reason, requested_by, fate) values ('${model}', 'drift', 'monitor', 'received')
        returning $1::text`,
      `delete from triggers where fate = 'received' and $1::text is not null`,
    );
    expect(failing(stuck)).toEqual(['everyTriggerHasAFate']);
    const misreported = await judge([{ ...sent[0]!, fate: 'queued' }]);
    expect(failing(misreported)).toEqual(['everyTriggerHasAFate']);
    expect(JSON.stringify(misreported.everyTriggerHasAFate.examples)).toMatch(
      /answered queued, registry says started/,
    );
  });

  it('catch a run whose registry record and workflow disagree on its outcome', async () => {
    const result = await withDamage(
      `update runs set outcome = 'rejected_eval' where id = $1`,
      `update runs set outcome = 'promoted' where id = $1`,
    );
    expect(failing(result)).toContain('everyRunEndsWithExactlyOneOutcome');
    expect(result.everyRunEndsWithExactlyOneOutcome.examples).toEqual([
      expect.objectContaining({
        run: runId,
        registry: 'rejected_eval',
        workflow: 'COMPLETED',
        ctOutcome: 'promoted',
      }),
    ]);
  });

  it('catch a promotion recorded twice', async () => {
    const result = await withDamage(
      `insert into alias_history (model, alias, from_version, to_version, run_id, actor, reason)
         select model, alias, from_version, to_version, run_id, actor, reason from alias_history where run_id = $1`,
      `delete from alias_history where id = (select max(id) from alias_history where run_id = $1)`,
    );
    expect(failing(result)).toEqual(['noDuplicatePromotions']);
  });

  it('catch an audit event written twice by a retried step', async () => {
    const result = await withDamage(
      `insert into audit_events (model, run_id, kind, actor, reason, details)
         select model, run_id, kind, actor, reason, details from audit_events
          where run_id = $1 and kind = 'promotion'`,
      `delete from audit_events where id = (select max(id) from audit_events where run_id = $1)`,
    );
    expect(failing(result)).toEqual(['noDuplicateAuditEvents']);
  });

  it('catch a version that is not the candidate of its run', async () => {
    const result = await withDamage(
      `update runs set candidate_version = 7 where id = $1`,
      `update runs set candidate_version = 1 where id = $1`,
    );
    expect(failing(result)).toContain('noDuplicateVersions');
  });

  it('catch a champion alias that the gateway does not serve', async () => {
    const result = await withDamage(
      `update aliases set version = 2 where model = '${model}' and $1::text is not null`,
      `update aliases set version = 1 where model = '${model}' and $1::text is not null`,
    );
    expect(failing(result)).toEqual(['championRoutingAndServingAgree']);
    expect(result.championRoutingAndServingAgree.examples).toEqual([
      expect.objectContaining({ model, expected: 1, alias: 2, routing: 1, served: [1] }),
    ]);
  });
});
