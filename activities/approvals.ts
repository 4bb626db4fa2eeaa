import { ApplicationFailure } from '@temporalio/activity';
import { evaluationReportHash, findModel, findRun, findVersion } from '../db/registry';
import { approvalDecisions, auditEvents } from '../db/schema';
import type { Identity } from '../domain/roles';
import type { ActivityDeps } from './deps';

export interface ApprovalDecisionRecord {
  model: string;
  runId: string;
  candidateVersion: number | null;
  by: string;
  role: string | null;
  decision: 'approve' | 'reject';
  reason: string | null;
  via: 'api' | 'signal';
  level: string | null;
  evaluationReportHash: string | null;
  status: 'accepted' | 'refused';
  refusal: string | null;
  eventKey: string;
}

export function createApprovalActivities({ db, identities }: ActivityDeps) {
  return {
    /** What the approval stage needs from the registry: the report's hash, and who registered the model. */
    async openApproval(input: {
      model: string;
      runId: string;
      candidateVersion: number | null;
    }): Promise<{ evaluationReportHash: string | null; registeredBy: string | null }> {
      const model = await findModel(db, input.model);
      if (!model) throw ApplicationFailure.nonRetryable(`model ${input.model} is not registered`);
      const version =
        input.candidateVersion === null ? null : await findVersion(db, input.model, input.candidateVersion);
      const run = version ? null : await findRun(db, input.model, input.runId);
      const evaluation = version?.evaluation ?? (run?.reports as { evaluation?: unknown })?.evaluation;
      return { evaluationReportHash: evaluationReportHash(evaluation), registeredBy: model.createdBy };
    },

    /** The identity a decision signal names, or null when no token has that name. */
    async resolveIdentity(input: { name: string }): Promise<Identity | null> {
      return identities.byName(input.name);
    },

    /** One decision, accepted or refused, in the approvals record and the audit trail. */
    async recordApprovalDecision(input: ApprovalDecisionRecord): Promise<void> {
      await db.transaction(async (tx) => {
        const inserted = await tx
          .insert(approvalDecisions)
          .values({
            model: input.model,
            runId: input.runId,
            candidateVersion: input.candidateVersion,
            actor: input.by,
            role: input.role,
            decision: input.decision,
            reason: input.reason,
            via: input.via,
            level: input.level,
            evaluationReportHash: input.evaluationReportHash,
            status: input.status,
            refusal: input.refusal,
            eventKey: input.eventKey,
          })
          .onConflictDoNothing()
          .returning({ id: approvalDecisions.id });
        if (inserted.length === 0) return; // a retry of a recorded decision
        await tx.insert(auditEvents).values({
          model: input.model,
          runId: input.runId,
          kind: input.status === 'accepted' ? `vote_${input.decision}` : 'vote_refused',
          actor: input.by,
          reason: input.status === 'accepted' ? input.reason : input.refusal,
          details: {
            decision: input.decision,
            via: input.via,
            level: input.level,
            role: input.role,
            evaluationReportHash: input.evaluationReportHash,
          },
          eventKey: `${input.eventKey}:audit`,
        });
      });
    },
  };
}
