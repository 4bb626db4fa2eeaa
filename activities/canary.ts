import type { VersionTraffic } from '../domain/canary-analysis';
import type { ActivityDeps } from './deps';

const EMPTY: VersionTraffic = {
  requests: 0,
  errors: 0,
  labelled: 0,
  correct: 0,
  latencyMsP50: null,
  latencyMs: [],
};

export function createCanaryActivities({ gateway }: ActivityDeps) {
  return {
    /** Sends `weight` percent of traffic to the candidate; returns when (database clock) that began. */
    async setCanaryWeight(input: {
      model: string;
      championVersion: number;
      candidateVersion: number;
      weight: number;
    }): Promise<{ since: string }> {
      const { since } = await gateway.setRoute(input.model, {
        championVersion: input.championVersion,
        candidateVersion: input.weight > 0 ? input.candidateVersion : null,
        candidateWeight: input.weight,
      });
      return { since: since.toISOString() };
    },

    /**
     * Traffic of both versions since the step began, for `canaryStepVerdict`:
     * counts plus the latencies of each version's most recent `latencySample`
     * requests (the gateway's default when absent).
     */
    async canaryTraffic(input: {
      model: string;
      championVersion: number;
      candidateVersion: number;
      since: string;
      latencySample?: number;
    }): Promise<{ champion: VersionTraffic; candidate: VersionTraffic }> {
      const stats = await gateway.traffic(
        input.model,
        [input.championVersion, input.candidateVersion],
        new Date(input.since),
        input.latencySample === undefined ? {} : { latencySample: input.latencySample },
      );
      return {
        champion: stats.get(input.championVersion) ?? EMPTY,
        candidate: stats.get(input.candidateVersion) ?? EMPTY,
      };
    },
  };
}
