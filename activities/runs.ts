import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { ZodError } from 'zod';
import { championVersion, findModel, mergeRunReport } from '../db/registry';
import { auditEvents, runs, triggers } from '../db/schema';
import { type Policy, parseStoredPolicy, policySnapshot } from '../domain/policy';
import { InvalidPolicyError } from '../domain/policy-bounds';
import type { Outcome, Stage, TriggerCause } from '../workflows/messages';
import type { ActivityDeps } from './deps';

export interface BeganRun {
  /** The policy as it was when the run began; the run follows it even if it is edited meanwhile. */
  readonly policy: Policy;
  readonly dataUri: string;
  readonly championVersion: number | null;
}

/** A stored policy outside today's bounds ends the run at once, naming each field: retrying cannot fix it. */
function readPolicyForRun(stored: unknown, model: string): Policy {
  return failingRunOnInvalidPolicy(() => parseStoredPolicy(stored, model));
}

/** Reads a policy; one that breaks the schema fails the run without retries (InvalidPolicy), naming the fields. */
function failingRunOnInvalidPolicy(read: () => Policy): Policy {
  try {
    return read();
  } catch (raw) {
    const err = raw instanceof ZodError ? InvalidPolicyError.from(raw, 'the carried policy') : raw;
    if (err instanceof InvalidPolicyError) {
      throw ApplicationFailure.create({
        message: err.message,
        type: 'InvalidPolicy',
        nonRetryable: true,
        details: [{ issues: err.issues }],
      });
    }
    throw err;
  }
}

/** Run bookkeeping: the runs table mirrors the workflow so the API can list and read runs. */
export function createRunActivities({ db, v2Server, log }: ActivityDeps) {
  /**
   * When a run ends, a V2 model server keeps only the champion: the run's
   * candidate if it did not win, or the champion it replaced (needed for a
   * rollback only until the bake ends) are unloaded. Best effort: a server
   * that is away keeps them until the next run ends.
   */
  const retireServedVersions = async (runId: string) => {
    if (!v2Server) return;
    const [run] = await db.select({ model: runs.model }).from(runs).where(eq(runs.id, runId));
    if (!run) return;
    const champion = await championVersion(db, run.model);
    for (const version of await v2Server.loaded(run.model)) {
      if (version === champion) continue;
      await v2Server
        .unload(run.model, version)
        .catch((err: unknown) =>
          log.warn(
            { model: run.model, version, reason: (err as Error).message },
            'could not unload from the V2 server',
          ),
        );
    }
  };
  return {
    async beginRun(input: {
      model: string;
      runId: string;
      workflowId: string;
      causes: TriggerCause[];
    }): Promise<BeganRun> {
      const model = await findModel(db, input.model);
      if (!model) {
        throw ApplicationFailure.nonRetryable(`model ${input.model} is not registered`, 'UnknownModel');
      }
      // A trigger may name the data to train on; the newest such trigger wins.
      const override = [...input.causes]
        .reverse()
        .map((c) => c.details.dataUri)
        .find((u): u is string => typeof u === 'string' && u.length > 0);
      const dataUri = override ?? model.dataUri;
      // Idempotent: a retried activity (worker lost after the insert) finds the row.
      await db
        .insert(runs)
        .values({
          id: input.runId,
          model: input.model,
          workflowId: input.workflowId,
          causes: input.causes,
          stage: 'validate',
          dataUri,
        })
        .onConflictDoNothing();
      const triggerIds = input.causes.map((c) => c.triggerId);
      if (triggerIds.length > 0) {
        await db
          .update(triggers)
          .set({ runId: input.runId })
          .where(and(eq(triggers.model, input.model), inArray(triggers.id, triggerIds)));
      }
      // Read after the run's row exists, so that a policy it cannot run with ends a run people can see.
      const policy = readPolicyForRun(model.policy, input.model);
      return {
        policy,
        dataUri,
        championVersion: await championVersion(db, input.model),
      };
    },

    /**
     * A continued run's carried policy snapshot, read as a snapshot is read
     * (policySnapshot: defaults filled, numbers clamped into the bounds).
     * Workflow code carries no schema library, so the new execution asks
     * here; a carry that cannot be read (a run started by hand with any
     * input) fails the run, naming the fields.
     */
    async readCarriedPolicy(input: { model: string; policy: unknown }): Promise<Policy> {
      return failingRunOnInvalidPolicy(() => policySnapshot(input.policy));
    },

    async setRunStage(input: { runId: string; stage: Stage }): Promise<void> {
      await db.update(runs).set({ stage: input.stage }).where(eq(runs.id, input.runId));
    },

    /** Merges one stage's report into the run's record (validation, training, evaluation, canary…). */
    async saveRunReport(input: { runId: string; name: string; report: unknown }): Promise<void> {
      await mergeRunReport(db, input.runId, input.name, input.report);
    },

    async finishRun(input: {
      runId: string;
      outcome: Outcome;
      reason: string;
      candidateVersion: number | null;
    }): Promise<void> {
      await db
        .update(runs)
        .set({
          stage: 'done',
          // The first recorded outcome stands (the model workflow's fallback never overwrites the run's own).
          outcome: sql`coalesce(${runs.outcome}, ${input.outcome})`,
          outcomeReason: sql`coalesce(${runs.outcomeReason}, ${input.reason})`,
          candidateVersion: input.candidateVersion ?? sql`${runs.candidateVersion}`,
          endedAt: sql`coalesce(${runs.endedAt}, now())`,
        })
        .where(eq(runs.id, input.runId));
      await retireServedVersions(input.runId);
    },

    /** Appends to the audit trail: approvals, rejections, expiries, operator rollbacks. */
    async recordAudit(input: {
      model: string;
      runId: string | null;
      kind: string;
      actor: string;
      reason: string | null;
      details?: Record<string, unknown>;
      eventKey?: string;
    }): Promise<void> {
      await db
        .insert(auditEvents)
        .values({
          model: input.model,
          runId: input.runId,
          kind: input.kind,
          actor: input.actor,
          reason: input.reason,
          details: input.details ?? {},
          eventKey: input.eventKey ?? null,
        })
        .onConflictDoNothing();
    },
  };
}
