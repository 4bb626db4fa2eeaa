import { condition, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { VersionTraffic } from '../domain/canary-analysis';
import { type CanarySequentialState, canaryStepVerdict } from '../domain/canary-analysis';
import type { Policy } from '../domain/policy';
import { can, type Identity } from '../domain/roles';
import { type ApprovalRun, decisionRound } from './approval-stage';
import type {
  CanaryControlInput,
  CanaryControlRecord,
  CanaryStepState,
  Outcome,
  RollbackInput,
  Stage,
} from './messages';
import { type PromotionSaga, rollBackPromotion } from './promotion-saga';

const control = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

type Ending = { outcome: Outcome; reason: string };

/** An operator control waiting to be applied; an update's caller is answered through `settle`. */
export type QueuedControl = CanaryControlInput & {
  readonly via: 'api' | 'signal';
  readonly settle?: (record: CanaryControlRecord) => void;
};

/** What the rollout reads and writes of the run. */
export interface RolloutRun extends ApprovalRun {
  stage: Stage;
  canaryWeight: number;
  canarySteps: CanaryStepState[];
  bakeEndsAt: string | null;
  rollback: RollbackInput | null;
  routingTouched: boolean;
  paused: boolean;
  promoteNow: { by: string; reason: string } | null;
  /** Operator controls waiting to be applied (signals still need their sender looked up). */
  readonly controlInbox: QueuedControl[];
  controls: CanaryControlRecord[];
  /** The previous champion's traffic in the last canary step: what the bake compares with. */
  baseline: VersionTraffic | null;
}

/** Why an operator control cannot be taken now (checked by the update's validator, and for signals). */
export function controlRefusal(
  run: RolloutRun,
  c: CanaryControlInput,
  operator: Identity | null,
): string | null {
  if (!operator) return `${c.by} is not a known identity`;
  if (!can(operator.role, 'operate'))
    return `${operator.name} has role ${operator.role}, which may not operate rollouts`;
  if (run.stage !== 'canary') return `no rollout to control: run is in stage ${run.stage}`;
  if (run.rollback || run.promoteNow) return 'the rollout is already ending';
  if (c.action === 'pause' && run.paused) return 'the rollout is already paused';
  if (c.action === 'resume' && !run.paused) return 'the rollout is not paused';
  return null;
}

/**
 * Applies queued operator controls, in order: signals are judged here (their
 * sender is looked up); every control, applied or refused, is audited.
 */
async function applyControls(run: RolloutRun): Promise<void> {
  const { model, runId } = run.input;
  for (let next = run.controlInbox.shift(); next; next = run.controlInbox.shift()) {
    const operator = next.operator ?? (await control.resolveIdentity({ name: next.by }));
    const refusal = controlRefusal(run, next, operator);
    const record: CanaryControlRecord = {
      action: next.action,
      by: next.by,
      reason: next.reason ?? null,
      at: new Date().toISOString(),
      via: next.via,
      accepted: refusal === null,
      refusal,
    };
    run.controls = [...run.controls, record];
    if (refusal === null) {
      const reason = next.reason ?? `${next.action} by ${next.by}`;
      if (next.action === 'pause') run.paused = true;
      if (next.action === 'resume') run.paused = false;
      if (next.action === 'abort') run.rollback = { by: next.by, reason: `aborted: ${reason}` };
      if (next.action === 'promote-now') run.promoteNow = { by: next.by, reason };
    }
    await control.recordAudit({
      model,
      runId,
      kind: refusal === null ? `canary_${next.action.replace('-', '_')}` : 'canary_control_refused',
      actor: next.by,
      reason: refusal ?? next.reason ?? null,
      details: { action: next.action, via: next.via, weight: run.canaryWeight },
      eventKey: `${runId}:control:${run.controls.length}`,
    });
    next.settle?.(record);
  }
}

/**
 * Steps the candidate's traffic share up; each step must pass the analysis
 * before the next. Operators may pause, resume, abort or promote now; a step
 * with no verdict by its maximum time rolls back, goes on, or asks a human,
 * as the policy says. Returns null to promote, or how the run ended.
 */
export async function canary(
  run: RolloutRun,
  policy: Policy,
  champion: number,
  candidate: number,
  restore: (actor: string, reason: string) => Promise<Ending>,
): Promise<Ending | null> {
  const { model, runId } = run.input;
  const rules = policy.canary;
  for (const weight of rules.steps.filter((w) => w < 100)) {
    run.routingTouched = true;
    run.canaryWeight = weight;
    const { since } = await control.setCanaryWeight({
      model,
      championVersion: champion,
      candidateVersion: candidate,
      weight,
    });
    // The step's clock stops while the rollout is paused.
    let activeMs = 0;
    let tick = Date.now();
    // The sequential tests' always-valid p-values, carried from look to look within the step.
    let sequential: CanarySequentialState | undefined;
    for (;;) {
      const interrupted = await condition(
        () => run.rollback !== null || run.promoteNow !== null || run.controlInbox.length > 0,
        rules.pollSeconds * 1000,
      );
      await applyControls(run);
      if (!run.paused) activeMs += Date.now() - tick;
      tick = Date.now();
      if (run.rollback) {
        return restore(run.rollback.by, `operator rollback during canary: ${run.rollback.reason}`);
      }
      if (run.promoteNow) break;
      if (interrupted) continue;
      const traffic = await control.canaryTraffic({
        model,
        championVersion: champion,
        candidateVersion: candidate,
        since,
        latencySample: rules.latencySampleSize,
      });
      const result = canaryStepVerdict({
        ...traffic,
        elapsedSeconds: activeMs / 1000,
        policy: rules,
        previous: sequential,
      });
      sequential = result.sequential;
      run.baseline = traffic.champion;
      // A failing candidate is rolled back even while paused: pausing holds the rollout, not the safety net.
      if (result.verdict === 'wait' || (run.paused && result.verdict !== 'fail')) continue;
      run.canarySteps = [
        ...run.canarySteps,
        {
          weight,
          verdict: result.verdict,
          reasons: result.reasons,
          championRequests: traffic.champion.requests,
          candidateRequests: traffic.candidate.requests,
        },
      ];
      await control.saveRunReport({ runId, name: 'canary', report: run.canarySteps });
      if (result.verdict === 'pass') break;
      if (result.verdict === 'inconclusive' && rules.onInconclusive === 'proceed') break;
      if (result.verdict === 'inconclusive' && rules.onInconclusive === 'ask') {
        const answer = await askAboutStep(run, policy, weight, result.reasons);
        if (answer.proceed) break;
        return restore(answer.by, answer.reason);
      }
      return restore('ctloop', `canary ${result.verdict} at ${weight} %: ${result.reasons.join('; ')}`);
    }
    if (run.promoteNow) break;
  }
  if (run.promoteNow) {
    run.canarySteps = [
      ...run.canarySteps,
      {
        weight: run.canaryWeight,
        verdict: 'promoted_by_operator',
        reasons: [`promote-now by ${run.promoteNow.by}: ${run.promoteNow.reason}`],
        championRequests: run.baseline?.requests ?? 0,
        candidateRequests: 0,
      },
    ];
    await control.saveRunReport({ runId, name: 'canary', report: run.canarySteps });
  }
  run.canaryWeight = 100;
  return null;
}

/** An inconclusive step pauses the rollout and asks a human, through the approval machinery. */
async function askAboutStep(
  run: RolloutRun,
  policy: Policy,
  weight: number,
  reasons: readonly string[],
): Promise<{ proceed: boolean; by: string; reason: string }> {
  const ask = policy.canary.ask;
  run.paused = true;
  const result = await decisionRound(run, {
    round: `canary-${weight}`,
    purpose: 'canary',
    question: `the canary step at ${weight} % was inconclusive (${reasons.join('; ')}): approve to go on, reject to roll back`,
    levels: [
      {
        level: 'primary',
        approvers: ask.approvers,
        role: ask.role,
        group: ask.group ?? null,
        timeoutSeconds: ask.timeoutSeconds,
        reminderBeforeSeconds: ask.reminderBeforeSeconds ?? null,
      },
    ],
    fourEyes: false,
    registeredBy: null,
    evaluationReportHash: null,
    onOpen: async () => {},
    audit: {
      key: `${run.input.runId}:canary-${weight}:decision`,
      approved: 'canary_proceed',
      rejected: 'canary_rejected',
      expired: 'canary_decision_expired',
    },
  });
  run.paused = false;
  const by = run.approval.by ?? 'ctloop';
  if (result === 'approved') return { proceed: true, by, reason: 'go on' };
  if (result === 'rejected') {
    return {
      proceed: false,
      by,
      reason: `inconclusive canary at ${weight} % rejected by ${by}: ${run.approval.reason ?? 'no reason given'}`,
    };
  }
  const proceed = policy.canary.ask.onExpiry === 'proceed';
  return {
    proceed,
    by: 'ctloop',
    reason: `inconclusive canary at ${weight} %: nobody decided by ${run.approval.deadline}, so ${proceed ? 'it goes on' : 'it rolls back'}`,
  };
}

/**
 * After promotion, the previous champion stays restorable for the bake
 * window: an operator's rollback, or a regression of the new champion
 * against the previous one's baseline, undoes the promotion saga.
 */
export async function bake(
  run: RolloutRun,
  policy: Policy,
  version: number,
  previousChampion: number,
  saga: PromotionSaga,
): Promise<Ending> {
  const { model } = run.input;
  const endsAt = Date.now() + policy.bake.seconds * 1000;
  run.bakeEndsAt = new Date(endsAt).toISOString();
  const since = new Date().toISOString();
  const check = policy.bake.regressionCheck && run.baseline !== null;
  let sequential: CanarySequentialState | undefined;
  let why: { actor: string; reason: string } | null = null;
  while (why === null && Date.now() < endsAt) {
    const left = endsAt - Date.now();
    const wait = check ? Math.min(left, policy.bake.pollSeconds * 1000) : left;
    if (await condition(() => run.rollback !== null, wait)) {
      why = { actor: run.rollback!.by, reason: `rollback during bake: ${run.rollback!.reason}` };
      break;
    }
    if (!check || Date.now() >= endsAt) continue;
    const traffic = await control.canaryTraffic({
      model,
      championVersion: previousChampion,
      candidateVersion: version,
      since,
      latencySample: policy.canary.latencySampleSize,
    });
    // The new champion against the previous one's recorded baseline, with the canary's tests.
    const result = canaryStepVerdict({
      champion: run.baseline!,
      candidate: traffic.candidate,
      elapsedSeconds: 0,
      policy: policy.canary,
      previous: sequential,
    });
    sequential = result.sequential;
    if (result.verdict === 'fail') {
      why = { actor: 'ctloop', reason: `regression during bake: ${result.reasons.join('; ')}` };
    }
  }
  if (why === null) return { outcome: 'promoted', reason: `bake window of ${policy.bake.seconds} s passed` };
  return rollBackPromotion(run, saga, why);
}
