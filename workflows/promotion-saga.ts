import { ApplicationFailure, CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PromotionPrevious } from '../activities/promotion';
import type { VersionTraffic } from '../domain/canary-analysis';
import type { PromotionPolicy } from '../domain/policy';
import { bookkeeping, control } from './activity-profiles';
import type { Outcome } from './messages';

/** The saga's steps, in the order promotion applies them; undone in reverse. */
export const SAGA_STEPS = ['alias', 'routing', 'monitors'] as const;
export type SagaStepName = (typeof SAGA_STEPS)[number];

/**
 * - `pending`: not attempted.
 * - `done`: applied.
 * - `failed`: attempted and failed for good; it may have written before failing, so it is undone too.
 * - `undone`: back to what the promotion replaced (undoing a step that never wrote is a no-op write).
 * - `undo_failed`: its undo failed after every retry; still as the promotion left it.
 * - `undo_skipped`: the alias was left on the new version because routing still sends it the traffic.
 */
export type SagaStepState = 'pending' | 'done' | 'failed' | 'undone' | 'undo_failed' | 'undo_skipped';

export interface SagaStep {
  readonly step: SagaStepName;
  readonly state: SagaStepState;
  /** Why the step or its undo failed. */
  readonly error: string | null;
}

/**
 * A promotion in progress or done, as plain data: the run carries it across
 * continue-as-new and passes it back to `undoPromotion`. `previous` was
 * recorded once, before the first write (activities/promotion.ts), so no
 * retry can make an undo restore the promotion's own writes.
 */
export interface PromotionSaga {
  readonly version: number;
  readonly actor: string;
  readonly reason: string;
  readonly previous: PromotionPrevious;
  readonly undoRetries: PromotionPolicy['undoRetries'];
  readonly steps: readonly SagaStep[];
}

export interface UndoResult {
  readonly saga: PromotionSaga;
  /** Every step is back to what the promotion replaced. */
  readonly complete: boolean;
  readonly undone: SagaStepName[];
  /** One line naming each step and what became of it, for the run's reason and the audit. */
  readonly summary: string;
}

/** What the saga reads and writes of the run. */
export interface SagaRun {
  readonly input: { readonly model: string; readonly runId: string };
  /** The previous champion's traffic in the last canary step: the new monitors' baseline. */
  readonly baseline: VersionTraffic | null;
  routingTouched: boolean;
  canaryWeight: number;
}

/**
 * Promotion as a saga: the champion alias, then all traffic, then the
 * monitors' baseline. If a step fails for good, every step is undone and
 * this throws a non-retryable failure saying what failed and what became of
 * each undo; the run ends `failed`.
 */
export async function promote(
  run: SagaRun,
  policy: PromotionPolicy,
  version: number,
  reason: string,
  actor: string,
): Promise<PromotionSaga> {
  const { model, runId } = run.input;
  const previous = await bookkeeping.recordPromotionStart({ model, runId, version, actor, reason });
  // From here the saga owns the routing: its undo sends all traffic to the previous champion,
  // which also ends a canary split.
  run.routingTouched = false;
  let saga: PromotionSaga = {
    version,
    actor,
    reason,
    previous,
    undoRetries: policy.undoRetries,
    steps: SAGA_STEPS.map((step) => ({ step, state: 'pending', error: null })),
  };
  for (const step of SAGA_STEPS) {
    try {
      await applyStep(run, saga, step);
      saga = withStep(saga, step, 'done', null);
    } catch (err) {
      saga = withStep(saga, step, 'failed', describe(err));
      const why = `promotion failed at ${step}: ${describe(err)}`;
      const undo = await undoPromotion(run, saga, 'ctloop', why);
      if (isCancellation(err)) throw err;
      throw ApplicationFailure.create({
        message: `${why}; ${undo.summary}`,
        type: 'PromotionFailed',
        nonRetryable: true,
      });
    }
  }
  await saveSagaReport(run, saga);
  return saga;
}

/**
 * Undoes the promotion in reverse order (monitors, routing, alias), each undo
 * retried with the policy's backoff. A failed undo does not stop the others
 * (traffic back on the previous champion matters most), except that the
 * alias stays on the new version while routing still serves it: the
 * champion alias names the version that serves traffic. Cannot be cancelled
 * halfway. Records the saga report, and a `compensation_failed` audit event
 * when something is left half-undone.
 */
export async function undoPromotion(
  run: SagaRun,
  saga: PromotionSaga,
  actor: string,
  reason: string,
): Promise<UndoResult> {
  return CancellationScope.nonCancellable(async () => {
    const { model, runId } = run.input;
    const undo = undoProxy(saga.undoRetries);
    let s = saga;
    for (const step of [...SAGA_STEPS].reverse()) {
      if (stepOf(s, step).state === 'undone') continue;
      if (step === 'alias' && stepOf(s, 'routing').state === 'undo_failed') {
        const why = `routing still sends all traffic to version ${s.version}, so the champion alias stays on it`;
        s = withStep(s, step, 'undo_skipped', why);
        continue;
      }
      try {
        if (step === 'alias') {
          await undo.moveChampionAlias({
            model,
            runId,
            to: s.previous.champion,
            actor,
            reason,
            kind: 'rollback',
          });
        } else if (step === 'routing') {
          await undo.routeAllTraffic({ model, version: s.previous.champion });
        } else {
          await undo.restoreMonitorBaseline({ model, previous: s.previous.monitors });
        }
        s = withStep(s, step, 'undone', null);
      } catch (err) {
        s = withStep(s, step, 'undo_failed', describe(err));
      }
    }
    if (stepOf(s, 'routing').state === 'undone') run.canaryWeight = 0;
    const complete = s.steps.every((x) => x.state === 'undone');
    const undone = [...SAGA_STEPS].reverse().filter((step) => stepOf(s, step).state === 'undone');
    const summary = complete ? `undone: ${undone.join(', ')}` : `rollback incomplete: ${describeSteps(s)}`;
    await saveSagaReport(run, s);
    if (!complete) {
      await bookkeeping.recordAudit({
        model,
        runId,
        kind: 'compensation_failed',
        actor: 'ctloop',
        reason: `${reason}; ${summary}`,
        details: { version: s.version, previousChampion: s.previous.champion, steps: s.steps },
        eventKey: `${runId}:compensation-failed`,
      });
    }
    return { saga: s, complete, undone, summary };
  });
}

/**
 * A rollback of a promoted run (during the bake): `rolled_back` when every
 * step is undone; otherwise `failed`, with the reason naming each step left
 * half-undone, since the run neither promoted nor rolled back.
 */
export async function rollBackPromotion(
  run: SagaRun,
  saga: PromotionSaga,
  why: { actor: string; reason: string },
): Promise<{ outcome: Outcome; reason: string; saga: PromotionSaga }> {
  const { model, runId } = run.input;
  const result = await undoPromotion(run, saga, why.actor, why.reason);
  if (!result.complete) {
    return { outcome: 'failed', reason: `${why.reason}; ${result.summary}`, saga: result.saga };
  }
  await bookkeeping.recordAudit({
    model,
    runId,
    kind: 'promotion_undone',
    actor: why.actor,
    reason: why.reason,
    details: { fromVersion: saga.version, toVersion: saga.previous.champion, undone: result.undone },
    eventKey: `${runId}:promotion-undone`,
  });
  return { outcome: 'rolled_back', reason: why.reason, saga: result.saga };
}

async function applyStep(run: SagaRun, saga: PromotionSaga, step: SagaStepName): Promise<void> {
  const { model, runId } = run.input;
  const { version, actor, reason } = saga;
  if (step === 'alias') {
    await control.moveChampionAlias({ model, runId, to: version, actor, reason, kind: 'promotion' });
  } else if (step === 'routing') {
    await control.routeAllTraffic({ model, version });
  } else {
    await bookkeeping.setMonitorBaseline({ model, runId, version, baseline: run.baseline });
  }
}

/**
 * Undos get their own retry profile from the policy: a failed step is safely
 * undone, but a failed undo leaves production half-rolled-back, so it is
 * retried for much longer (durably: the server keeps the retry timers).
 */
function undoProxy(r: PromotionPolicy['undoRetries']) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: r.backoffSeconds * 1000,
      backoffCoefficient: 2,
      // Temporal refuses a maximum below the first interval.
      maximumInterval: Math.max(r.maxBackoffSeconds, r.backoffSeconds) * 1000,
      maximumAttempts: r.attempts,
    },
  });
}

async function saveSagaReport(run: SagaRun, saga: PromotionSaga): Promise<void> {
  await bookkeeping.saveRunReport({
    runId: run.input.runId,
    name: 'saga',
    report: { version: saga.version, previousChampion: saga.previous.champion, steps: saga.steps },
  });
}

function stepOf(saga: PromotionSaga, step: SagaStepName): SagaStep {
  return saga.steps.find((s) => s.step === step)!;
}

function withStep(
  saga: PromotionSaga,
  step: SagaStepName,
  state: SagaStepState,
  error: string | null,
): PromotionSaga {
  return { ...saga, steps: saga.steps.map((s) => (s.step === step ? { step, state, error } : s)) };
}

function describeSteps(saga: PromotionSaga): string {
  return [...SAGA_STEPS]
    .reverse()
    .map((step) => {
      const s = stepOf(saga, step);
      return s.state === 'undone' ? `${step} undone` : `${step} NOT undone (${s.error ?? s.state})`;
    })
    .join('; ');
}

/** An activity failure's own message (its cause), not the SDK's "Activity task failed" wrapper. */
function describe(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as Error & { cause?: unknown }).cause instanceof Error) {
    e = (e as Error & { cause?: unknown }).cause;
  }
  return e instanceof Error ? e.message : String(err);
}
