import { Context } from '@temporalio/activity';
import { canaryLooks } from '../db/schema';
import {
  type CanarySequentialState,
  type CanaryVerdict,
  canaryStepVerdict,
  type VersionTraffic,
} from '../domain/canary-analysis';
import type { CanaryPolicy } from '../domain/policy';
import { createCanaryActivities } from './canary';
import type { ActivityDeps } from './deps';
import { workerClock } from './watch-clock';

/**
 * One watch over a canary step or a bake window. The run workflow used to
 * poll from its own code (a timer and an activity per poll, ~11 history
 * events); a watch polls here instead and returns only with a verdict, at the
 * end of its chunk, or at the end of the bake, so a wait of any length costs
 * the run a bounded number of events.
 */
export interface WatchInput {
  readonly mode: 'canary' | 'bake';
  readonly model: string;
  /** The run watched: each look is recorded under it (canary_looks) for the approval pages. */
  readonly runId: string;
  /** The candidate's traffic share (%) during this watch; 100 in the bake. */
  readonly weight: number;
  readonly championVersion: number;
  readonly candidateVersion: number;
  /** Traffic counted from here (database clock). */
  readonly since: string;
  readonly policy: CanaryPolicy;
  readonly pollSeconds: number;
  /** Polls this watch makes at most before it returns its state (the run may continue as new then). */
  readonly polls: number;
  /** Canary: active step time before this watch (the step's clock stops while paused). */
  readonly activeMs: number;
  /** Canary: while paused only a failure ends the watch; the step's clock stands still. */
  readonly paused: boolean;
  /** Bake: the previous champion's traffic the new champion is compared with. */
  readonly baseline: VersionTraffic | null;
  /** Bake: epoch milliseconds at which the window ends. */
  readonly endsAt: number | null;
  readonly sequential: CanarySequentialState | null;
}

export interface WatchResult {
  /** `wait`: the chunk ended with no verdict (or the bake window passed, see `ended`). */
  readonly verdict: CanaryVerdict;
  readonly reasons: readonly string[];
  readonly sequential: CanarySequentialState | null;
  readonly activeMs: number;
  readonly champion: VersionTraffic | null;
  readonly candidate: VersionTraffic | null;
  /** Bake: the window has passed. */
  readonly ended: boolean;
}

interface Progress {
  readonly polls: number;
  readonly activeMs: number;
  readonly sequential: CanarySequentialState | null;
}

export function createCanaryWatchActivities(deps: ActivityDeps) {
  const { canaryTraffic } = createCanaryActivities(deps);
  const clock = deps.watchClock ?? workerClock;
  /** Evidence for people, not for the verdict: a look that cannot be recorded is logged and the watch goes on. */
  const recordLook = async (
    input: WatchInput,
    champion: VersionTraffic,
    candidate: VersionTraffic,
    result: { verdict: CanaryVerdict; sequential: CanarySequentialState | null },
  ) => {
    const counts = ({ requests, errors, labelled, correct, latencyMsP50 }: VersionTraffic) => ({
      requests,
      errors,
      labelled,
      correct,
      latencyMsP50,
    });
    await deps.db
      .insert(canaryLooks)
      .values({
        model: input.model,
        runId: input.runId,
        mode: input.mode,
        weight: input.weight,
        champion: counts(champion),
        candidate: counts(candidate),
        errorRateP: input.policy.sequential ? (result.sequential?.errorRate ?? null) : null,
        accuracyP: input.policy.sequential ? (result.sequential?.accuracy ?? null) : null,
        verdict: result.verdict,
      })
      .catch((err: unknown) => deps.log.warn({ err, runId: input.runId }, 'canary look not recorded'));
  };
  return {
    async watchRollout(input: WatchInput): Promise<WatchResult> {
      const context = Context.current();
      // A retry on another worker resumes with the looks already taken (the sequential state).
      const resumed = context.info.heartbeatDetails as Progress | undefined;
      let progress: Progress = resumed ?? {
        polls: 0,
        activeMs: input.activeMs,
        sequential: input.sequential,
      };
      let last: WatchResult = {
        verdict: 'wait',
        reasons: [],
        sequential: progress.sequential,
        activeMs: progress.activeMs,
        champion: null,
        candidate: null,
        ended: false,
      };
      while (progress.polls < input.polls) {
        const pollMs = input.pollSeconds * 1000;
        const wait = Math.max(
          0,
          input.endsAt === null ? pollMs : Math.min(pollMs, input.endsAt - (await clock.now())),
        );
        await clock.wait(wait, progress);
        const activeMs = input.paused ? progress.activeMs : progress.activeMs + wait;
        const ended = input.endsAt !== null && (await clock.now()) >= input.endsAt;
        const traffic = await canaryTraffic({
          model: input.model,
          championVersion: input.championVersion,
          candidateVersion: input.candidateVersion,
          since: input.since,
          latencySample: input.policy.latencySampleSize,
        });
        const champion = input.mode === 'bake' ? (input.baseline ?? traffic.champion) : traffic.champion;
        const result = canaryStepVerdict({
          champion,
          candidate: traffic.candidate,
          // The bake has no step clock: only a failure counts there.
          elapsedSeconds: input.mode === 'bake' ? 0 : activeMs / 1000,
          policy: input.policy,
          previous: progress.sequential ?? undefined,
        });
        await recordLook(input, champion, traffic.candidate, result);
        progress = { polls: progress.polls + 1, activeMs, sequential: result.sequential };
        context.heartbeat(progress);
        last = {
          verdict: result.verdict,
          reasons: result.reasons,
          sequential: result.sequential,
          activeMs,
          champion: traffic.champion,
          candidate: traffic.candidate,
          ended,
        };
        const decisive =
          result.verdict === 'fail' ||
          (input.mode === 'canary' && !input.paused && result.verdict !== 'wait');
        if (decisive || ended) return last;
      }
      return { ...last, verdict: last.verdict === 'fail' ? 'fail' : 'wait' };
    },
  };
}
