import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApprovalLevel, DecisionContext, Vote } from '../domain/approval';
import type { CanarySequentialState, VersionTraffic } from '../domain/canary-analysis';
import type { DedupCarry } from '../domain/trigger-governance';
import type { LedgerCarry } from '../domain/trigger-ledger';
import type { TriggerPolicy } from '../domain/trigger-policy-bounded';
import type { PromotionSaga } from './promotion-saga';

/**
 * Every message, payload type, id and search attribute shared by the
 * workflows and their clients (the API, the demo, the tests). It imports only
 * the SDK (and types), so the API can import it without pulling workflow code along.
 */

/** `registry`: a version someone else's training job registered (MLflow); the run evaluates it without training. */
export const TRIGGER_REASONS = ['drift', 'schedule', 'performance', 'manual', 'registry'] as const;
export type TriggerReason = (typeof TRIGGER_REASONS)[number];

export const STAGES = [
  'queued',
  'validate',
  'train',
  'evaluate',
  'approve',
  'canary',
  'promote',
  'bake',
  'done',
] as const;
export type Stage = (typeof STAGES)[number];

export const OUTCOMES = [
  'promoted',
  'rejected_data',
  'rejected_eval',
  'rejected_approval',
  'rolled_back',
  'failed',
  'cancelled',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const modelWorkflowId = (model: string) => `ct-model/${model}`;
export const runWorkflowId = (model: string, runId: string) => `ct-run/${model}/${runId}`;
export const driftWorkflowId = (model: string, reportId: string) => `ct-drift/${model}/${reportId}`;
export const notifyWorkflowId = (runId: string, event: string, n: number) =>
  `ct-notify/${runId}/${event}/${n}`;
export const scheduleId = (model: string, name: string) => `ct-schedule/${model}/${name}`;
/**
 * The task queue of the long-lived watching activities (a canary's or bake's
 * watch, a carried run's end), beside the control queue they belong to. They
 * sleep most of the time, each holding an activity slot for hours; on a queue
 * of their own, with slots to match, 100 canaries at once cannot take every
 * slot of the control queue and starve the quick activities (a new run's
 * `beginRun`, a stage change) of every model.
 */
export const watchTaskQueue = (controlTaskQueue: string) => `${controlTaskQueue}-watch`;

export const ctModelKey = defineSearchAttributeKey('CtModel', SearchAttributeType.KEYWORD);
export const ctStageKey = defineSearchAttributeKey('CtStage', SearchAttributeType.KEYWORD);
export const ctOutcomeKey = defineSearchAttributeKey('CtOutcome', SearchAttributeType.KEYWORD);
export const ctTriggerKey = defineSearchAttributeKey('CtTrigger', SearchAttributeType.KEYWORD);

/** One reason to retrain, as received by the API (already stored in the triggers table). */
export interface TriggerCause {
  readonly triggerId: string;
  readonly reason: TriggerReason;
  readonly requestedBy: string;
  readonly details: Record<string, unknown>;
  readonly receivedAt: string;
}

// ---- per-model workflow -------------------------------------------------------------

export interface ModelWorkflowInput {
  readonly model: string;
  readonly trainTaskQueue: string;
  /** Where training goes when the policy asks for a GPU (only GPU workers poll it). */
  readonly gpuTrainTaskQueue?: string;
  /** Continue-as-new after this many runs (default 100; history size also triggers it). */
  readonly maxRunsPerExecution?: number;
  /** Continue-as-new once the history has this many events (default 10,000). */
  readonly maxHistoryEvents?: number;
  /** Continue-as-new once the execution has taken this many updates (default 1,500). */
  readonly maxUpdatesPerExecution?: number;
  /** Passed to every run as its `maxHistoryEvents` (tests make it tiny). */
  readonly runMaxHistoryEvents?: number;
  /** Carried across continue-as-new. */
  readonly carried?: ModelWorkflowCarry;
  /** The registry's freeze state when the workflow is started (a carried one wins). */
  readonly freeze?: FreezeState;
}

export interface ModelWorkflowCarry {
  readonly pending: PendingRun | null;
  readonly completedRuns: number;
  readonly lastOutcome: RunOutcomeSummary | null;
  /** Trigger governance (absent in carries written before it existed). */
  readonly governance?: GovernanceCarry;
  /** A run in progress when the execution continued as new; the next one waits for it. */
  readonly current?: { readonly run: PendingRun; readonly stage: Stage | null };
}

/** The model workflow's trigger governance, carried across continue-as-new. */
export interface GovernanceCarry {
  /** The `triggers` section of the policy that came with the latest trigger; null before any did. */
  readonly policy: TriggerPolicy | null;
  readonly freeze: FreezeState;
  readonly cooldown: { readonly until: number; readonly after: string } | null;
  /** Epoch milliseconds at which runs started, for the rolling 24-hour budget. */
  readonly runStarts: readonly number[];
  readonly dedup: DedupCarry;
  /** The answers given to recent triggers (domain/trigger-ledger.ts). */
  readonly answered: LedgerCarry<TriggerAccepted>;
}

export interface PendingRun {
  readonly runId: string;
  /** At most 200 causes and 128 KiB of them (domain/follow-up-causes.ts says which stay). */
  readonly causes: TriggerCause[];
  /** Triggers that joined the run beyond those bounds: answered with this run, not carried. */
  readonly omittedCauses?: number;
}

export interface RunOutcomeSummary {
  readonly runId: string;
  readonly outcome: Outcome;
  readonly reason: string;
}

/**
 * What became of a trigger. `started`: a run began for it; `queued`: a run is
 * in progress, so it opened the follow-up run; `joined`: it joined the
 * follow-up another trigger opened (older records say `coalesced`); `held`:
 * the follow-up it opened or joined waits for a canary/bake to end or for a
 * cooldown; `deduplicated`: its dedup key was seen within the TTL, it answers
 * the earlier trigger and its run; `suppressed`: nothing starts (frozen,
 * cooldown, daily budget: see `reason`).
 */
export type TriggerFate = 'started' | 'queued' | 'joined' | 'held' | 'deduplicated' | 'suppressed';

export interface TriggerAccepted {
  readonly fate: TriggerFate;
  /** The run it started or joined (for `deduplicated`, the earlier trigger's run); null when suppressed. */
  readonly runId: string | null;
  /** Why it was held, deduplicated or suppressed. */
  readonly reason?: string;
  /** For `deduplicated`: the earlier trigger with the same key. */
  readonly duplicateOf?: string;
}

/** What the model workflow needs besides the cause to govern a trigger (absent in old histories). */
export interface TriggerContext {
  readonly dedupKey: string | null;
  /** The model's `triggers` policy section as the API read it with the trigger. */
  readonly policy: TriggerPolicy;
}

/** A model's freeze: no run starts (and, in a run, no promotion) while `frozen`. */
export interface FreezeState {
  readonly frozen: boolean;
  readonly reason: string | null;
  readonly by: string | null;
  /** ISO time of the freeze or unfreeze. */
  readonly at: string | null;
}

export type FreezeRequest = Omit<FreezeState, 'at'>;

/** A run tells its parent model workflow each stage it enters (triggers are held in canary/bake). */
export interface RunStageReport {
  readonly runId: string;
  readonly stage: Stage;
}

export interface ModelState {
  readonly model: string;
  readonly current: PendingRun | null;
  /** The current run's stage as it last reported it (null until it does). */
  readonly currentStage: Stage | null;
  readonly pending: PendingRun | null;
  readonly completedRuns: number;
  readonly lastOutcome: RunOutcomeSummary | null;
  readonly freeze: FreezeState;
  /** ISO time until which the model cools down after its last run, and why. */
  readonly cooldown: { readonly until: string; readonly after: string } | null;
  /** Runs started in the last 24 hours, and the policy's budget for them (null: no policy seen yet). */
  readonly runsLast24h: number;
  readonly dailyRunBudget: number | null;
  /** Dedup keys remembered (within their TTL). */
  readonly dedupKeys: number;
}

/** An update, not a signal: the API must answer the caller with the run it started or joined. */
export const triggerUpdate = defineUpdate<TriggerAccepted, [TriggerCause, TriggerContext | undefined]>(
  'trigger',
);
/** One trigger of a batch: its cause and how the API read the model's trigger policy with it. */
export interface TriggerBatchItem {
  readonly cause: TriggerCause;
  readonly context: TriggerContext;
}
/**
 * Triggers that reached one API process while its previous update to the same
 * model was in flight, decided together in arrival order: under load one
 * update carries many triggers (Temporal caps updates per execution at 2,000).
 * `recorded`: ids of triggers that process delivered before and whose fates it
 * has since stored (their answers need not be carried across continue-as-new).
 */
export const triggerBatchUpdate = defineUpdate<
  TriggerAccepted[],
  [TriggerBatchItem[], readonly string[] | undefined]
>('triggers');
export const modelStateQuery = defineQuery<ModelState>('modelState');
/**
 * What the model workflow answered each of these triggers (null: not among
 * its recent answers). The reconciler asks it about triggers whose delivery
 * failed on the caller's side, which the workflow may have taken all the same.
 */
export const triggerAnswersQuery = defineQuery<(TriggerAccepted | null)[], [string[]]>('triggerAnswers');
/** An update so that the operator's call returns once the model workflow holds the freeze. */
export const freezeUpdate = defineUpdate<ModelState, [FreezeRequest]>('freeze');
/** Sent by a run to its parent model workflow from each stage it enters. */
export const runStageSignal = defineSignal<[RunStageReport]>('runStage');
/** Forwarded by the model workflow to its current run when the model is frozen or unfrozen. */
export const modelFreezeSignal = defineSignal<[FreezeRequest]>('modelFreeze');

// ---- run workflow ---------------------------------------------------------------------

export interface RunWorkflowInput {
  readonly model: string;
  readonly runId: string;
  readonly causes: TriggerCause[];
  /** Triggers that joined the run but are not among `causes` (bounded; see PendingRun). */
  readonly omittedCauses?: number;
  readonly trainTaskQueue: string;
  readonly gpuTrainTaskQueue?: string;
  /** Continue-as-new at a wait's safe point once the history has this many events (default 8,000). */
  readonly maxHistoryEvents?: number;
  /** Where an earlier execution of this run stopped, to resume the same wait (continue-as-new). */
  readonly resume?: RunResume;
}

/** The run's state carried across continue-as-new: plain data, nothing redone. */
export interface RunResume {
  readonly wait: 'approve' | 'bake';
  /** Executions of this run before this one. */
  readonly executions: number;
  /** The policy snapshot the run began with. */
  readonly policy: unknown;
  readonly state: RunCarry;
  readonly approval?: ApprovalPosition;
  readonly bake?: BakePosition;
}

export interface RunCarry {
  readonly training: TrainingState;
  readonly candidateVersion: number | null;
  readonly championVersion: number | null;
  readonly approval: ApprovalState;
  readonly context: Omit<DecisionContext, 'level' | 'votes'> | null;
  readonly canaryWeight: number;
  readonly paused: boolean;
  readonly promoteNow: { by: string; reason: string } | null;
  readonly controls: CanaryControlRecord[];
  readonly baseline: VersionTraffic | null;
  readonly freeze: FreezeRequest;
  readonly canarySteps: CanaryStepState[];
  readonly bakeEndsAt: string | null;
  readonly routingTouched: boolean;
  readonly refused: number;
  /** Audits of refused signals that arrived while the previous execution was handing over. */
  readonly deferredAudits: DeferredAudit[];
}

export interface DeferredAudit {
  readonly model: string;
  readonly runId: string;
  readonly kind: string;
  readonly actor: string;
  readonly reason: string;
  readonly details: Record<string, unknown>;
  readonly eventKey: string;
}

/** An open approval round: the level it is at, that level's clock, and notifications sent. */
export interface ApprovalPosition {
  readonly levelIndex: number;
  readonly deadlineMs: number;
  readonly reminded: boolean;
  readonly notifications: number;
}

export interface BakePosition {
  readonly version: number;
  readonly previousChampion: number;
  readonly endsAt: number;
  readonly since: string;
  readonly sequential: CanarySequentialState | null;
  readonly saga: PromotionSaga;
}

export interface RunResult {
  readonly runId: string;
  readonly outcome: Outcome;
  readonly reason: string;
  readonly candidateVersion: number | null;
}

/**
 * A decision sent as a signal (e.g. from the Temporal UI), payload
 * `{"by": "alice", "reason": "looks good"}`. The run looks `by` up among the
 * configured identities and applies the same rules as to the API's updates;
 * a refused signal is recorded in the audit trail.
 */
export interface ApprovalDecisionInput {
  readonly by: string;
  readonly reason?: string;
  /** Optional: the evaluation report the approver saw (GET /v1/approvals). */
  readonly evaluationReportHash?: string;
}

/**
 * A decision sent as an update (the API sends its authenticated caller's
 * name). Only the name travels: the run looks the identity up itself, so a
 * made-up role or group in the message cannot decide anything.
 */
export interface DecisionInput extends ApprovalDecisionInput {
  readonly decision: 'approve' | 'reject';
}

export interface RollbackInput {
  readonly by: string;
  readonly reason: string;
}

export interface ApprovalState {
  readonly required: boolean;
  /** Deadline of the level that is open now. */
  readonly deadline: string | null;
  readonly decision: 'approve' | 'reject' | 'expired' | null;
  /** Who took the final decision (the last approver, or ctloop on expiry). */
  readonly by: string | null;
  readonly reason: string | null;
  /** The open level (`escalation` after an expiry with onExpiry "escalate"). */
  readonly level: ApprovalLevel['level'] | null;
  /** Distinct approvals the open level needs, from which role and group. */
  readonly needed: number;
  readonly role: ApprovalLevel['role'] | null;
  readonly group: string | null;
  readonly reminderAt: string | null;
  readonly votes: readonly Vote[];
  /** Decisions refused (wrong role, four-eyes, duplicate, stale report) that reached the run as signals. */
  readonly refusals: number;
  /** SHA-256 of the evaluation report the approvers decide on. */
  readonly evaluationReportHash: string | null;
  /**
   * What is being decided: `promotion` (the approval stage) or `canary` (a
   * step was inconclusive: approve = go on, reject = roll back).
   */
  readonly purpose: 'promotion' | 'canary' | null;
  /** The question in words, for the approver's inbox. */
  readonly question: string | null;
  /** Whether the open round refuses whoever triggered the run or registered the model. */
  readonly fourEyes: boolean;
}

/** One notification: approval requested, reminder, escalated, decided. */
export interface NotifyInput {
  readonly event: `${'approval' | 'canary'}.${'requested' | 'reminder' | 'escalated' | 'decided'}`;
  readonly model: string;
  readonly runId: string;
  readonly at: string;
  readonly data: Record<string, unknown>;
}

export interface CanaryStepState {
  readonly weight: number;
  readonly verdict: string;
  readonly reasons: readonly string[];
  readonly championRequests: number;
  readonly candidateRequests: number;
}

/** What the run knows about its training across attempts (step-level progress is in the run's record). */
export interface TrainingState {
  readonly taskQueue: string | null;
  readonly attempts: number;
  readonly preemptions: number;
  readonly crashes: number;
  /** Steps done after the last checkpoint and redone after a restart, summed over restarts. */
  readonly lostSteps: number;
  readonly lastCheckpoint: { readonly uri: string; readonly step: number } | null;
  readonly lastError: string | null;
}

export interface RunState {
  readonly model: string;
  readonly runId: string;
  readonly stage: Stage;
  readonly causes: TriggerCause[];
  /** Triggers that joined the run beyond the causes it carries. */
  readonly omittedCauses: number;
  readonly candidateVersion: number | null;
  readonly championVersion: number | null;
  readonly training: TrainingState;
  readonly approval: ApprovalState;
  readonly canary: {
    readonly weight: number;
    readonly steps: readonly CanaryStepState[];
    /** Held by an operator (or while a human decides an inconclusive step). */
    readonly paused: boolean;
    readonly controls: readonly CanaryControlRecord[];
  };
  readonly bakeEndsAt: string | null;
  /** The model is frozen: the run holds before its canary and before its promotion. */
  readonly frozen: boolean;
  /** What waits for the model to be unfrozen (`the canary`, `the promotion`), or null. */
  readonly held: string | null;
  readonly outcome: Outcome | null;
  readonly reason: string | null;
}

/** For approvers in the Temporal UI: payload `{"by": "alice", "reason": "looks good"}`. */
export const approveSignal = defineSignal<[ApprovalDecisionInput]>('approve');
export const rejectSignal = defineSignal<[ApprovalDecisionInput]>('reject');
/** For API callers: accepted or refused at once (wrong role, four-eyes, duplicate, too late). */
export const decideUpdate = defineUpdate<ApprovalState, [DecisionInput]>('decide');
/** Restores the previous champion; valid during canary and bake. */
export const rollbackSignal = defineSignal<[RollbackInput]>('rollback');
export const rollbackUpdate = defineUpdate<{ accepted: true }, [RollbackInput]>('requestRollback');
export const runStateQuery = defineQuery<RunState>('runState');

export const CANARY_ACTIONS = ['pause', 'resume', 'abort', 'promote-now'] as const;
export type CanaryAction = (typeof CANARY_ACTIONS)[number];

/**
 * An operator's control of a rollout in canary: `pause` holds the current
 * step (a failing candidate is still rolled back), `resume` goes on, `abort`
 * rolls back now, `promote-now` skips the remaining steps. From the Temporal
 * UI: signal `canaryControl` with `{"action": "pause", "by": "olga", "reason": "…"}`.
 */
export interface CanaryControlInput {
  readonly action: CanaryAction;
  readonly by: string;
  readonly reason?: string;
}

export interface CanaryControlRecord {
  readonly action: CanaryAction;
  readonly by: string;
  readonly reason: string | null;
  readonly at: string;
  readonly via: 'api' | 'signal';
  readonly accepted: boolean;
  readonly refusal: string | null;
}

export const canaryControlSignal = defineSignal<[CanaryControlInput]>('canaryControl');
export const controlCanaryUpdate = defineUpdate<CanaryControlRecord, [CanaryControlInput]>('controlCanary');

// ---- retrain schedules ------------------------------------------------------------------

/** A retrain schedule's timing as the API takes it: exactly one of `cron` and `intervalSeconds`. */
export interface RetrainScheduleSpec {
  readonly cron?: string;
  readonly intervalSeconds?: number;
  readonly offsetSeconds?: number;
  readonly timezone: string;
  readonly jitterSeconds: number;
}

/** What a schedule starts `scheduledTriggerWorkflow` with; the spec rides along so the API can show it as given. */
export interface ScheduledTriggerInput {
  readonly model: string;
  readonly name: string;
  readonly spec: RetrainScheduleSpec;
}
