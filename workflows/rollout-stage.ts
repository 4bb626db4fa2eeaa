import {
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { WatchInput, WatchResult } from '../activities/canary-watch';
import type { CanarySequentialState, VersionTraffic } from '../domain/canary-analysis';
import type { Policy } from '../domain/policy';
import { chunkPolls, watchHeartbeatSeconds } from '../domain/watch-plan';
import { bookkeeping, control } from './activity-profiles';
import { type ApprovalRun, decisionRound } from './approval-stage';
import {
  type BakePosition,
  type CanaryControlRecord,
  type CanaryStepState,
  type Outcome,
  type RollbackInput,
  type Stage,
  watchTaskQueue,
} from './messages';
import { type PromotionSaga, rollBackPromotion } from './promotion-saga';
import { WorkflowClock } from './workflow-clock';

type Ending = { outcome: Outcome; reason: string };

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
  controls: CanaryControlRecord[];
  /** The previous champion's traffic in the last canary step: what the bake compares with. */
  baseline: VersionTraffic | null;
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
    // The sequential tests' always-valid p-values, carried from look to look within the step.
    let sequential: CanarySequentialState | null = null;
    const polls = chunkPolls(rules.stepMaxSeconds, rules.pollSeconds);
    for (;;) {
      if (run.rollback) {
        return restore(run.rollback.by, `operator rollback during canary: ${run.rollback.reason}`);
      }
      if (run.promoteNow) break;
      const paused = run.paused;
      const started = Date.now();
      const watched = await watchUntil(
        {
          mode: 'canary',
          model,
          runId,
          weight,
          championVersion: champion,
          candidateVersion: candidate,
          since,
          policy: rules,
          pollSeconds: rules.pollSeconds,
          polls,
          activeMs,
          paused,
          baseline: null,
          endsAt: null,
          sequential,
        },
        () => run.rollback !== null || run.promoteNow !== null || run.paused !== paused,
      );
      if (watched === null) {
        // Interrupted by a control: the looks of the cut chunk are lost, its time is not.
        if (!paused) activeMs += Date.now() - started;
        continue;
      }
      activeMs = watched.activeMs;
      sequential = watched.sequential;
      if (watched.champion) run.baseline = watched.champion;
      // A failing candidate is rolled back even while paused: pausing holds the rollout, not the safety net.
      if (watched.verdict === 'wait' || (run.paused && watched.verdict !== 'fail')) continue;
      run.canarySteps = [
        ...run.canarySteps,
        {
          weight,
          verdict: watched.verdict,
          reasons: watched.reasons,
          championRequests: watched.champion?.requests ?? 0,
          candidateRequests: watched.candidate?.requests ?? 0,
        },
      ];
      await bookkeeping.saveRunReport({ runId, name: 'canary', report: run.canarySteps });
      if (watched.verdict === 'pass') break;
      if (watched.verdict === 'inconclusive' && rules.onInconclusive === 'proceed') break;
      if (watched.verdict === 'inconclusive' && rules.onInconclusive === 'ask') {
        const answer = await askAboutStep(run, policy, weight, watched.reasons);
        if (answer === null) continue; // cut short by a rollback or promote-now: the loop applies it
        if (answer.proceed) break;
        return restore(answer.by, answer.reason);
      }
      return restore('ctloop', `canary ${watched.verdict} at ${weight} %: ${watched.reasons.join('; ')}`);
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
    await bookkeeping.saveRunReport({ runId, name: 'canary', report: run.canarySteps });
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
): Promise<{ proceed: boolean; by: string; reason: string } | null> {
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
    interrupted: () => run.rollback !== null || run.promoteNow !== null,
    audit: {
      key: `${run.input.runId}:canary-${weight}:decision`,
      approved: 'canary_proceed',
      rejected: 'canary_rejected',
      expired: 'canary_decision_expired',
    },
  });
  run.paused = false;
  if (result === 'interrupted') return null;
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
  checkpoint?: BakeCheckpoint,
): Promise<Ending> {
  const { model } = run.input;
  const resume = checkpoint?.resume;
  // The window ends on its fired timer, or on a watch that saw it pass, whatever the clock of the
  // task delivering it says (workflows/workflow-clock.ts).
  const clock = new WorkflowClock();
  const endsAt = resume?.endsAt ?? clock.now() + policy.bake.seconds * 1000;
  run.bakeEndsAt = new Date(endsAt).toISOString();
  const since = resume?.since ?? new Date().toISOString();
  const check = policy.bake.regressionCheck && run.baseline !== null;
  const polls = chunkPolls(policy.bake.seconds, policy.bake.pollSeconds);
  let sequential: CanarySequentialState | null = resume?.sequential ?? null;
  let why: { actor: string; reason: string } | null = null;
  const heavy = checkpoint?.heavy ?? (() => false);
  try {
    while (why === null && clock.now() < endsAt) {
      if (run.rollback) {
        why = { actor: run.rollback.by, reason: `rollback during bake: ${run.rollback.reason}` };
        break;
      }
      if (heavy()) {
        await checkpoint!.save({ version, previousChampion, endsAt, since, sequential, saga });
        continue; // a rollback arrived meanwhile: the loop applies it
      }
      if (!check) {
        // One durable timer for the whole window: nothing to poll.
        await clock.waitUntil(() => run.rollback !== null || heavy(), endsAt);
        continue;
      }
      const watched = await watchUntil(
        {
          mode: 'bake',
          model,
          runId: run.input.runId,
          weight: 100,
          championVersion: previousChampion,
          candidateVersion: version,
          since,
          policy: { ...policy.canary, pollSeconds: policy.bake.pollSeconds },
          pollSeconds: policy.bake.pollSeconds,
          polls,
          activeMs: 0,
          paused: false,
          baseline: run.baseline,
          endsAt,
          sequential,
        },
        () => run.rollback !== null || heavy(),
      );
      if (watched === null) continue;
      if (watched.ended) clock.reached(endsAt);
      sequential = watched.sequential;
      if (watched.verdict === 'fail') {
        why = { actor: 'ctloop', reason: `regression during bake: ${watched.reasons.join('; ')}` };
      }
    }
  } catch (err) {
    // A cancelled run does not keep a candidate it never finished baking.
    if (isCancellation(err)) {
      // Undone and audited (`promotion_undone`, or `compensation_failed` naming what is left) like a rollback.
      await CancellationScope.nonCancellable(() =>
        rollBackPromotion(run, saga, { actor: 'ctloop', reason: 'run cancelled during bake' }),
      );
    }
    throw err;
  }
  if (why === null) return { outcome: 'promoted', reason: `bake window of ${policy.bake.seconds} s passed` };
  return rollBackPromotion(run, saga, why);
}

/** Where the bake may continue as new: as `RoundCheckpoint` for an approval round. */
export interface BakeCheckpoint {
  readonly heavy: () => boolean;
  readonly save: (position: BakePosition) => Promise<void>;
  readonly resume?: BakePosition;
}

/**
 * Runs one watch until it returns, or until `interrupted` holds (a control
 * arrived): then the watch is cancelled and null returned. A cancelled run
 * cancels the watch with it.
 */
async function watchUntil(input: WatchInput, interrupted: () => boolean): Promise<WatchResult | null> {
  const watcher = proxyActivities<Activities>({
    taskQueue: watchTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: (input.polls * input.pollSeconds + 120) * 1000,
    heartbeatTimeout: watchHeartbeatSeconds(input.pollSeconds) * 1000,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
  });
  const scope = new CancellationScope();
  const watching = scope.run(() => watcher.watchRollout(input));
  let settled = false;
  const done = watching.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await condition(() => settled || interrupted());
  if (settled) return watching;
  scope.cancel();
  await done;
  return null;
}
