import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import pg from 'pg';
import type { ApiCall } from '../../../api/client';
import { ctOutcomeKey, modelStateQuery, modelWorkflowId } from '../../../workflows/messages';
import type { SentTrigger } from './scenarios';

/** One invariant's verdict: how many violations, and a few of them to look at. */
export interface InvariantResult {
  readonly ok: boolean;
  readonly checked: number;
  readonly violations: number;
  readonly examples: unknown[];
}

const verdict = (checked: number, violations: unknown[]): InvariantResult => ({
  ok: violations.length === 0,
  checked,
  violations: violations.length,
  examples: violations.slice(0, 5),
});

export type Invariants = {
  readonly everyTriggerHasAFate: InvariantResult;
  readonly everyRunEndsWithExactlyOneOutcome: InvariantResult;
  readonly noDuplicateVersions: InvariantResult;
  readonly noDuplicateAuditEvents: InvariantResult;
  readonly noDuplicatePromotions: InvariantResult;
  readonly championRoutingAndServingAgree: InvariantResult;
};

const ENDED_FATES = ['started', 'queued', 'joined', 'held', 'deduplicated', 'suppressed'];
const RUN_FATES = ['started', 'queued', 'joined', 'held'];

/**
 * The soak's judgement, read from the registry (Postgres) and from Temporal
 * once everything has settled:
 *  - every trigger has a fate, and the run it names exists and lists it;
 *  - every started run ended with exactly one outcome, the same in the
 *    registry and in Temporal (a COMPLETED run workflow whose CtOutcome says
 *    it), and no model workflow is failed, wedged or still holding a run;
 *  - no duplicate versions, audit events or promotions;
 *  - the champion alias, the gateway's routing, the API and the predictions
 *    actually served agree with the last promotion not rolled back.
 */
export async function checkInvariants(opts: {
  databaseUrl: string;
  temporal: Client;
  apis: readonly ApiCall[];
  sentTriggers: readonly SentTrigger[];
  /** Only the workflows of this control task queue (when the Temporal server is shared). */
  taskQueue?: string;
}): Promise<Invariants> {
  const db = new pg.Client({ connectionString: opts.databaseUrl });
  await db.connect();
  const q = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) =>
    (await db.query<T>(text, params)).rows;
  try {
    const models = (await q<{ name: string }>('select name from models order by name')).map((m) => m.name);
    const triggerRows = await q<{ id: string; model: string; fate: string; run_id: string | null }>(
      'select id, model, fate, run_id from triggers',
    );
    const runRows = await q<{
      id: string;
      model: string;
      outcome: string | null;
      ended_at: Date | null;
      candidate_version: number | null;
      causes: { triggerId: string }[];
    }>('select id, model, outcome, ended_at, candidate_version, causes from runs');
    const runsById = new Map(runRows.map((r) => [r.id, r]));
    const triggersById = new Map(triggerRows.map((t) => [t.id, t]));

    // ---- every trigger has a fate ---------------------------------------------------------
    const fateless: unknown[] = [];
    for (const t of triggerRows) {
      if (!ENDED_FATES.includes(t.fate) && t.fate !== 'failed_to_deliver') {
        fateless.push({ trigger: t.id, model: t.model, fate: t.fate });
        continue;
      }
      // A duplicate names the earlier trigger's run (if that one had a run); the others their own.
      if (t.fate === 'deduplicated' && t.run_id && !runsById.has(t.run_id)) {
        fateless.push({
          trigger: t.id,
          fate: t.fate,
          problem: `names run ${t.run_id}, which does not exist`,
        });
      }
      if (!RUN_FATES.includes(t.fate)) continue;
      const run = t.run_id ? runsById.get(t.run_id) : undefined;
      if (!run)
        fateless.push({
          trigger: t.id,
          fate: t.fate,
          problem: `names run ${t.run_id}, which does not exist`,
        });
      else if (!run.causes.some((c) => c.triggerId === t.id)) {
        fateless.push({
          trigger: t.id,
          fate: t.fate,
          problem: `run ${run.id} does not list it among its causes`,
        });
      }
    }
    for (const run of runRows) {
      for (const cause of run.causes) {
        const t = triggersById.get(cause.triggerId);
        if (!t || !RUN_FATES.includes(t.fate)) {
          fateless.push({
            run: run.id,
            cause: cause.triggerId,
            problem: `its trigger's fate is ${t?.fate ?? 'missing'}`,
          });
        }
      }
    }
    // What the API answered must be what the registry kept.
    for (const sent of opts.sentTriggers) {
      if (!sent.triggerId) continue;
      const t = triggersById.get(sent.triggerId);
      if (!t)
        fateless.push({ trigger: sent.triggerId, problem: `answered ${sent.fate}, but not in the registry` });
      else if (t.fate !== sent.fate)
        fateless.push({ trigger: sent.triggerId, problem: `answered ${sent.fate}, registry says ${t.fate}` });
    }
    const triggersHaveFate = verdict(triggerRows.length, fateless);

    // ---- every started run ends with exactly one outcome ---------------------------------
    const executions = new Map<string, WorkflowExecutionInfo>();
    const query = opts.taskQueue ? `TaskQueue = '${opts.taskQueue}'` : undefined;
    for await (const wf of opts.temporal.workflow.list({ query })) {
      const seen = executions.get(wf.workflowId);
      // Continued-as-new chains: the newest execution is the one that counts.
      if (!seen || wf.startTime > seen.startTime) executions.set(wf.workflowId, wf);
    }
    const outcomeProblems: unknown[] = [];
    for (const run of runRows) {
      const wf = executions.get(`ct-run/${run.model}/${run.id}`);
      const status = wf?.status.name;
      const temporalOutcome = wf?.typedSearchAttributes.get(ctOutcomeKey) ?? null;
      if (!run.outcome || !run.ended_at || status !== 'COMPLETED' || temporalOutcome !== run.outcome) {
        outcomeProblems.push({
          run: run.id,
          model: run.model,
          registry: run.outcome,
          workflow: status ?? 'missing',
          ctOutcome: temporalOutcome,
        });
      }
    }
    for (const [id, wf] of executions) {
      if (!id.startsWith('ct-run/')) continue;
      const runId = id.split('/').pop()!;
      if (!runsById.has(runId))
        outcomeProblems.push({ workflow: id, status: wf.status.name, problem: 'no run record' });
    }
    for (const model of models) {
      const wf = executions.get(modelWorkflowId(model));
      if (wf && wf.status.name !== 'RUNNING') {
        outcomeProblems.push({
          workflow: wf.workflowId,
          status: wf.status.name,
          problem: 'model workflow ended',
        });
        continue;
      }
      if (!wf) continue;
      // A run's record ends a moment before its model's workflow lets it go: allow that moment.
      const handle = opts.temporal.workflow.getHandle(modelWorkflowId(model));
      let problem: Record<string, unknown> | null = null;
      for (const giveUp = Date.now() + 30_000; ; ) {
        try {
          const state = await handle.query(modelStateQuery);
          problem =
            state.current || state.pending
              ? { model, problem: 'model workflow still holds a run', current: state.current?.runId }
              : null;
        } catch (err) {
          problem = { model, problem: `model workflow does not answer: ${(err as Error).message}` };
        }
        if (!problem || Date.now() > giveUp) break;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      if (problem) outcomeProblems.push(problem);
    }
    const runsEndOnce = verdict(runRows.length + models.length, outcomeProblems);

    // ---- no duplicates ---------------------------------------------------------------------
    const versionDuplicates = await q(`
      select 'same version twice' as problem, model, version::text as key, count(*)::int as n
        from model_versions group by model, version having count(*) > 1
      union all
      select 'run with two versions', model, run_id, count(*)::int
        from model_versions group by model, run_id having count(*) > 1
      union all
      select 'version not the candidate of its run', v.model, v.version::text, 1
        from model_versions v join runs r on r.id = v.run_id
       where r.candidate_version is distinct from v.version`);
    const versionCount = Number((await q<{ n: string }>('select count(*) as n from model_versions'))[0]!.n);

    // Audit events: by key, and by content (a retried activity without a key writes the same row twice).
    const auditDuplicates = await q(`
      select 'event key twice' as problem, event_key as key, count(*)::int as n
        from audit_events where event_key is not null group by event_key having count(*) > 1
      union all
      select 'same event twice', run_id || ' ' || kind || ' ' || actor, count(*)::int
        from audit_events where run_id is not null
       group by run_id, kind, actor, coalesce(reason, ''), details::text having count(*) > 1
      union all
      select 'same accepted vote twice', run_id || ' ' || actor || ' ' || coalesce(level, ''), count(*)::int
        from approval_decisions where status = 'accepted'
       group by run_id, actor, coalesce(level, ''), decision having count(*) > 1`);
    const auditCount = Number((await q<{ n: string }>('select count(*) as n from audit_events'))[0]!.n);

    const promotionDuplicates = await q(`
      select h.model, h.run_id, h.to_version, count(*)::int as n
        from alias_history h join runs r on r.id = h.run_id
       where h.to_version = r.candidate_version
       group by h.model, h.run_id, h.to_version having count(*) > 1`);
    const promotionCount = Number(
      (
        await q<{ n: string }>(`select count(*) as n from alias_history h join runs r on r.id = h.run_id
                                  where h.to_version = r.candidate_version`)
      )[0]!.n,
    );

    // ---- champion, routing and serving agree with the last promotion not rolled back ------
    const disagreements: unknown[] = [];
    for (const model of models) {
      const [last] = await q<{ version: number }>(
        `
        select candidate_version as version from runs
         where model = $1 and outcome = 'promoted' order by ended_at desc limit 1`,
        [model],
      );
      const expected = last?.version ?? null;
      const [alias] = await q<{ version: number }>(
        "select version from aliases where model = $1 and alias = 'champion'",
        [model],
      );
      const [route] = await q<{ champion: number | null; candidate: number | null; weight: number }>(
        `select champion_version as champion, candidate_version as candidate, candidate_weight as weight
           from routes where model = $1`,
        [model],
      );
      const [history] = await q<{ to: number | null }>(
        `select to_version as to from alias_history where model = $1 and alias = 'champion'
          order by id desc limit 1`,
        [model],
      );
      const seen: Record<string, unknown> = {
        expected,
        alias: alias?.version ?? null,
        routing: route?.champion ?? null,
        canary: route ? { candidate: route.candidate, weight: route.weight } : null,
        lastAliasChange: history?.to ?? null,
      };
      const apiChampions: unknown[] = [];
      const served = new Set<number | string>();
      for (const api of opts.apis) {
        apiChampions.push((await api('GET', `/v1/models/${model}`)).body?.champion ?? null);
        for (let i = 0; i < 10; i++) {
          const res = await api('POST', `/v1/models/${model}/predict`, {
            features: { x1: 0.1 * i, x2: 0, x3: 1, x4: -1 },
            key: `invariant-${i}`,
          });
          served.add(res.status === 200 ? res.body.version : `HTTP ${res.status}`);
        }
      }
      seen.api = apiChampions;
      seen.served = [...served];
      const agree =
        seen.alias === expected &&
        seen.routing === expected &&
        (route?.candidate ?? null) === null &&
        (route?.weight ?? 0) === 0 &&
        seen.lastAliasChange === expected &&
        apiChampions.every((c) => c === expected) &&
        (expected === null ? true : served.size === 1 && served.has(expected));
      if (!agree) disagreements.push({ model, ...seen });
    }

    return {
      everyTriggerHasAFate: triggersHaveFate,
      everyRunEndsWithExactlyOneOutcome: runsEndOnce,
      noDuplicateVersions: verdict(versionCount, versionDuplicates),
      noDuplicateAuditEvents: verdict(auditCount, auditDuplicates),
      noDuplicatePromotions: verdict(promotionCount, promotionDuplicates),
      championRoutingAndServingAgree: verdict(models.length, disagreements),
    };
  } finally {
    await db.end();
  }
}
