import type { DecisionContext, Vote } from '../domain/approval';
import type { VersionTraffic } from '../domain/canary-analysis';
import { can, type Identity } from '../domain/roles';
import { initialApprovalState } from './approval-stage';
import type {
  ApprovalState,
  CanaryControlInput,
  CanaryControlRecord,
  CanaryStepState,
  DeferredAudit,
  FreezeRequest,
  Outcome,
  RollbackInput,
  RunState,
  RunWorkflowInput,
  Stage,
  TrainingState,
} from './messages';
import type { RolloutRun } from './rollout-stage';
import { initialTrainingState } from './training-stage';

export type Ending = { outcome: Outcome; reason: string };

/** The run's state, held in one place so handlers, stages and the query read the same thing. */
export class RunTracker implements RolloutRun {
  stage: Stage = 'queued';
  training: TrainingState = initialTrainingState;
  candidateVersion: number | null = null;
  championVersion: number | null = null;
  approval: ApprovalState = initialApprovalState;
  readonly unrecorded: Vote[] = [];
  context: Omit<DecisionContext, 'level' | 'votes'> | null = null;
  round: string | null = null;
  canaryWeight = 0;
  paused = false;
  promoteNow: { by: string; reason: string } | null = null;
  controls: CanaryControlRecord[] = [];
  baseline: VersionTraffic | null = null;
  /** The model's freeze, as its workflow forwards it: a frozen model neither canaries nor promotes. */
  freeze: FreezeRequest = { frozen: false, reason: null, by: '' };
  /** What waits for the model to be unfrozen, while it does. */
  held: string | null = null;
  canarySteps: CanaryStepState[] = [];
  bakeEndsAt: string | null = null;
  rollback: RollbackInput | null = null;
  ending: Ending | null = null;
  /** Routing was changed by this run and must be restored if it does not promote. */
  routingTouched = false;
  /** Refusals audited by the run, for their idempotency keys. */
  refused = 0;
  /**
   * Decisions are judged one at a time, in the order they arrived: each waits
   * for an identity look-up (an activity), and two look-ups may complete in
   * either order, so without this a person's second vote could be judged
   * before their first.
   */
  decisions: Promise<unknown> = Promise.resolve();
  /** Handing over to the next execution: refused signals' audits wait for it (`deferredAudits`). */
  continuing = false;
  deferredAudits: DeferredAudit[] = [];

  constructor(readonly input: RunWorkflowInput) {}

  snapshot(): RunState {
    return {
      model: this.input.model,
      runId: this.input.runId,
      stage: this.stage,
      causes: this.input.causes,
      omittedCauses: this.input.omittedCauses ?? 0,
      candidateVersion: this.candidateVersion,
      championVersion: this.championVersion,
      training: this.training,
      approval: this.approval,
      canary: {
        weight: this.canaryWeight,
        steps: this.canarySteps,
        paused: this.paused,
        controls: this.controls,
      },
      bakeEndsAt: this.bakeEndsAt,
      frozen: this.freeze.frozen,
      held: this.held,
      outcome: this.ending?.outcome ?? null,
      reason: this.ending?.reason ?? null,
    };
  }

  /** A human is being asked about an inconclusive canary step. */
  get asking(): boolean {
    return this.approval.purpose === 'canary' && this.round !== null && this.approval.decision === null;
  }

  /** The run is ending (or has ended): no control can change its course any more. */
  get isEnding(): boolean {
    return this.ending !== null || this.stage === 'done' || this.rollback !== null;
  }

  /** Why a decision cannot be taken now (before the sender is looked up), or null when it can. */
  decisionRefusal(d: { by?: unknown }): string | null {
    if (typeof d?.by !== 'string' || d.by.trim() === '') return 'a decision needs `by`, who decides';
    if (this.round === null || this.approval.level === null || this.isEnding) {
      return `run is not waiting for a decision (stage: ${this.stage})`;
    }
    if (this.approval.decision !== null) return `run was already decided: ${this.approval.decision}`;
    return null;
  }

  /** Why a rollback cannot be taken now: only once something was routed or promoted, or waits to be. */
  rollbackRefusal(r: { by?: unknown }, who?: Identity | null): string | null {
    if (typeof r?.by !== 'string' || r.by === '') return 'a rollback needs `by`, who asks for it';
    if (who === null) return `${r.by} is not a known identity`;
    if (who && !can(who.role, 'operate')) return `${who.name} has role ${who.role}, which may not roll back`;
    if (this.stage !== 'canary' && this.stage !== 'promote' && this.stage !== 'bake') {
      return `nothing to roll back: run is in stage ${this.stage}`;
    }
    if (this.championVersion === null) return 'nothing to roll back to: this is the model’s first champion';
    if (this.isEnding) return 'the run is already ending';
    return null;
  }

  /**
   * Why an operator control cannot be taken now, judged against the wait the
   * run is in (`who` undefined: before the sender is looked up).
   */
  controlRefusal(c: CanaryControlInput, who?: Identity | null): string | null {
    if (who === null) return `${c.by} is not a known identity`;
    if (who && !can(who.role, 'operate')) {
      return `${who.name} has role ${who.role}, which may not operate rollouts`;
    }
    const { stage } = this;
    if (stage !== 'canary' && stage !== 'promote' && stage !== 'bake') {
      return `no rollout to control: run is in stage ${stage}`;
    }
    if (this.isEnding) return 'the rollout is already ending';
    if (this.championVersion === null) return 'no rollout to control: this is the model’s first champion';
    // Abort ends every rollout wait: it is the operator's rollback.
    if (c.action === 'abort') return null;
    if (stage === 'promote')
      return 'the canary is over and the candidate is being promoted; roll back instead';
    if (stage === 'bake') return 'the candidate is promoted and baking; only abort or rollback apply';
    if (this.promoteNow) return `the rollout is already ending: promote-now by ${this.promoteNow.by}`;
    if (this.held)
      return `the model is frozen: ${this.held} waits for unfreeze (abort or roll back to end it)`;
    if (this.asking) {
      if (c.action === 'promote-now') return null;
      return `a human is being asked about the inconclusive step: approve or reject it (or abort, promote-now)`;
    }
    if (c.action === 'pause' && this.paused) return 'the rollout is already paused';
    if (c.action === 'resume' && !this.paused) return 'the rollout is not paused';
    return null;
  }

  /** Applies an accepted control to the state; the waits see it through their conditions. */
  applyControl(c: CanaryControlInput): void {
    const reason = c.reason ?? `${c.action} by ${c.by}`;
    if (c.action === 'pause') this.paused = true;
    if (c.action === 'resume') this.paused = false;
    if (c.action === 'abort') this.rollback = { by: c.by, reason: `aborted: ${reason}` };
    if (c.action === 'promote-now') this.promoteNow = { by: c.by, reason };
  }
}
