import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { CHAMPION, championVersion, mergeRunReport } from '../db/registry';
import { aliases, aliasHistory, auditEvents, modelVersions, routes, runs } from '../db/schema';
import type { ActivityDeps } from './deps';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * Points the champion alias and the serving route at `to` together, in one
 * transaction, with the audit event that says who and why (and an alias
 * history row when the alias moves). Routing is always reset to the champion
 * alone, which also ends a canary. Idempotent for a retried activity: the
 * alias is already there and the event key is already recorded.
 */
async function setChampion(
  tx: Tx,
  change: { model: string; to: number | null; runId: string; actor: string; reason: string; kind: string },
): Promise<{ from: number | null; changed: boolean }> {
  const route = {
    model: change.model,
    championVersion: change.to,
    candidateVersion: null,
    candidateWeight: 0,
    updatedAt: sql`now()`,
  };
  await tx.insert(routes).values(route).onConflictDoUpdate({ target: routes.model, set: route });
  return moveAlias(tx, change);
}

/** The champion alias alone, with its history row and the audit event (idempotent per run and kind). */
async function moveAlias(
  tx: Tx,
  change: { model: string; to: number | null; runId: string; actor: string; reason: string; kind: string },
): Promise<{ from: number | null; changed: boolean }> {
  const [current] = await tx
    .select({ version: aliases.version })
    .from(aliases)
    .where(and(eq(aliases.model, change.model), eq(aliases.alias, CHAMPION)))
    .for('update');
  const from = current?.version ?? null;
  await tx
    .insert(auditEvents)
    .values({
      model: change.model,
      runId: change.runId,
      kind: change.kind,
      actor: change.actor,
      reason: change.reason,
      details: { fromVersion: from, toVersion: change.to },
      eventKey: `${change.runId}:${change.kind}`,
    })
    .onConflictDoNothing();
  if (from === change.to) return { from, changed: false };
  if (change.to === null) {
    await tx.delete(aliases).where(and(eq(aliases.model, change.model), eq(aliases.alias, CHAMPION)));
  } else {
    const values = { model: change.model, alias: CHAMPION, version: change.to, updatedAt: sql`now()` };
    await tx
      .insert(aliases)
      .values(values)
      .onConflictDoUpdate({ target: [aliases.model, aliases.alias], set: values });
  }
  await tx.insert(aliasHistory).values({
    model: change.model,
    alias: CHAMPION,
    fromVersion: from,
    toVersion: change.to,
    runId: change.runId,
    actor: change.actor,
    reason: change.reason,
  });
  return { from, changed: true };
}

export function createRegistryActivities(deps: ActivityDeps) {
  const { db, codeVersion, gateway, mlflow, log } = deps;

  /**
   * MLflow's alias `champion` to ctloop's champion as it is now (not as a
   * caller thought it was), after ctloop's own change has committed. Best
   * effort: MLflow being away never holds up a promotion or a rollback; it is
   * logged and audited, and the next change of champion sets the alias right.
   */
  const followInMlflow = async (model: string, runId: string) => {
    if (!mlflow) return;
    const champion = await championVersion(db, model);
    try {
      await mlflow.setChampion(model, champion);
    } catch (err) {
      const reason = (err as Error).message;
      log.warn({ model, champion, reason }, 'MLflow alias champion not updated');
      await db
        .insert(auditEvents)
        .values({ model, runId, kind: 'mlflow_sync_failed', actor: 'ctloop', reason, details: { champion } })
        .catch(() => {});
    }
  };

  /** The candidate in MLflow too (idempotent); the run's record keeps where. A failure is retried by Temporal. */
  const registerInMlflow = async (input: {
    model: string;
    runId: string;
    version: number;
    artifactUri: string;
    metrics: Record<string, unknown>;
    dataHash: string;
    params: Record<string, unknown>;
    mlflowVersion?: string;
  }) => {
    if (!mlflow) return;
    if (input.mlflowVersion) {
      // Registered in MLflow by its own training job: marked as this ctloop version, not registered again.
      await mlflow.adoptVersion(input.model, input.mlflowVersion, input.version, input.runId);
      const source = (await mlflow.fetchVersion(input.model, input.mlflowVersion)).runId;
      await mergeRunReport(db, input.runId, 'mlflow', {
        uri: mlflow.uri,
        name: input.model,
        version: input.mlflowVersion,
        runId: source,
        imported: true,
      });
      return;
    }
    const [run] = await db.select({ causes: runs.causes }).from(runs).where(eq(runs.id, input.runId));
    const causes = (run?.causes ?? []) as { reason?: string; requestedBy?: string }[];
    const numbers = (prefix: string, value: unknown): [string, number][] =>
      typeof value === 'number'
        ? [[prefix, value]]
        : value && typeof value === 'object'
          ? Object.entries(value).flatMap(([k, v]) => numbers(prefix ? `${prefix}.${k}` : k, v))
          : [];
    const registered = await mlflow.registerVersion({
      model: input.model,
      version: input.version,
      runId: input.runId,
      artifact: (await deps.artifacts.get(input.artifactUri)).toString('utf8'),
      params: input.params,
      metrics: Object.fromEntries(numbers('', input.metrics)),
      tags: {
        'ctloop.model': input.model,
        'ctloop.data_hash': input.dataHash,
        'ctloop.code_version': codeVersion,
        'ctloop.causes': causes.map((c) => `${c.reason ?? '?'} by ${c.requestedBy ?? '?'}`).join('; '),
      },
    });
    await mergeRunReport(db, input.runId, 'mlflow', { uri: mlflow.uri, ...registered });
  };

  return {
    /** Registers the trained candidate as the model's next version; at most one version per run. */
    async registerCandidate(input: {
      model: string;
      runId: string;
      artifactUri: string;
      metrics: Record<string, unknown>;
      dataUri: string;
      dataHash: string;
      /** The drift reference sketch of the data, when training made one. */
      referenceSketchUri?: string;
      params: Record<string, unknown>;
      /** The candidate is this MLflow version (imported, not trained here). */
      mlflowVersion?: string;
    }): Promise<{ version: number }> {
      const registered = await db.transaction(async (tx) => {
        const [existing] = await tx
          .select({ version: modelVersions.version })
          .from(modelVersions)
          .where(eq(modelVersions.runId, input.runId));
        if (existing) return existing;
        // Serialise version numbering per model (the unique index would also catch a race).
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${input.model}))`);
        const [next] = await tx
          .select({ n: sql<number>`coalesce(max(${modelVersions.version}), 0)::int + 1` })
          .from(modelVersions)
          .where(eq(modelVersions.model, input.model));
        const version = Number(next!.n);
        const { mlflowVersion: _imported, ...row } = input;
        await tx.insert(modelVersions).values({ ...row, version, codeVersion });
        return { version };
      });
      await registerInMlflow({ ...input, version: registered.version });
      return registered;
    },

    /** Makes `version` the champion: alias and routing move together. */
    async promoteCandidate(input: {
      model: string;
      runId: string;
      version: number;
      actor: string;
      reason: string;
    }): Promise<{ previousChampion: number | null }> {
      const result = await db.transaction((tx) =>
        setChampion(tx, { ...input, to: input.version, kind: 'promotion' }),
      );
      // This process's gateway serves the new routing at once; other processes within its cache TTL.
      gateway.invalidate(input.model);
      await followInMlflow(input.model, input.runId);
      return { previousChampion: result.changed ? result.from : await previousOf(db, input) };
    },

    /**
     * Puts `version` (the champion before this run) back in charge of all
     * traffic: a canary rollback, a bake rollback, or the clean-up of a run
     * that failed mid-canary (`kind` tells them apart in the audit).
     */
    async restoreChampion(input: {
      model: string;
      runId: string;
      version: number | null;
      actor: string;
      reason: string;
      kind?: 'rollback' | 'routing_restored';
    }): Promise<void> {
      await db.transaction((tx) =>
        setChampion(tx, { ...input, to: input.version, kind: input.kind ?? 'rollback' }),
      );
      gateway.invalidate(input.model);
      await followInMlflow(input.model, input.runId);
    },

    /**
     * Promotion saga, step 1 (and its undo): the champion alias, with its
     * history and an audit event saying who and why. Routing is left alone.
     */
    async moveChampionAlias(input: {
      model: string;
      runId: string;
      to: number | null;
      actor: string;
      reason: string;
      kind: 'promotion' | 'rollback';
    }): Promise<{ from: number | null }> {
      const moved = await db.transaction(async (tx) => {
        const { from } = await moveAlias(tx, input);
        return { from };
      });
      await followInMlflow(input.model, input.runId);
      return moved;
    },

    /** Promotion saga, step 2 (and its undo): all traffic to `version`, which also ends a canary. */
    async routeAllTraffic(input: { model: string; version: number | null }): Promise<void> {
      // Through the serving adapter, so that an external platform's traffic split moves too.
      await gateway.setRoute(input.model, {
        championVersion: input.version,
        candidateVersion: null,
        candidateWeight: 0,
      });
    },

    async currentChampion(input: { model: string }): Promise<number | null> {
      return championVersion(db, input.model);
    },
  };
}

/** For a retried promotion: the version the run's own promotion replaced. */
async function previousOf(db: Db, input: { model: string; runId: string; version: number }) {
  const [row] = await db
    .select({ from: aliasHistory.fromVersion })
    .from(aliasHistory)
    .where(
      and(
        eq(aliasHistory.model, input.model),
        eq(aliasHistory.runId, input.runId),
        eq(aliasHistory.toVersion, input.version),
      ),
    );
  return row?.from ?? null;
}
