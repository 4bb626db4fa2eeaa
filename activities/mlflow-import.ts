import { isServableModel } from '../domain/servable-model';
import type { ActivityDeps } from './deps';
import type { TrainedCandidate } from './training';

/** A version trained elsewhere, taken in as this run's candidate (or why not). */
export type ImportedCandidate =
  | {
      readonly ok: true;
      readonly trained: TrainedCandidate;
      readonly source: {
        readonly mlflowVersion: string;
        readonly mlflowRunId: string | null;
        readonly tags: Record<string, string>;
      };
    }
  | { readonly ok: false; readonly reason: string };

export function createMlflowImportActivities(deps: ActivityDeps) {
  return {
    /**
     * Takes an MLflow model version that someone else's training job
     * registered as this run's candidate: its `model.json` (ctloop's artifact
     * format) is copied into the artifact store. What cannot be a candidate
     * (no MLflow configured, no such version, not a model ctloop can serve)
     * is an answer, not a failure; MLflow being unreachable is retried.
     */
    async importFromMlflow(input: {
      model: string;
      runId: string;
      mlflowVersion: string;
    }): Promise<ImportedCandidate> {
      if (!deps.mlflow)
        return { ok: false, reason: 'no MLflow registry is configured on this worker (CTLOOP_MLFLOW_URI)' };
      let fetched: Awaited<ReturnType<NonNullable<ActivityDeps['mlflow']>['fetchVersion']>>;
      try {
        fetched = await deps.mlflow.fetchVersion(input.model, input.mlflowVersion);
      } catch (err) {
        const code = (err as { code?: string | null }).code;
        if (code === null || code === undefined) throw err; // unreachable: Temporal retries
        return {
          ok: false,
          reason: `MLflow version ${input.mlflowVersion} of ${input.model}: ${(err as Error).message}`,
        };
      }
      let artifact: unknown;
      try {
        artifact = JSON.parse(fetched.artifact);
      } catch {
        artifact = null;
      }
      if (!isServableModel(artifact)) {
        const reason = `MLflow version ${input.mlflowVersion} of ${input.model} holds no model ctloop can serve (model.json must be a logreg or mlp artifact)`;
        // Said in MLflow too, so that a poll does not offer it again.
        await deps.mlflow.setVersionTags(input.model, input.mlflowVersion, {
          'ctloop.import_refused': reason,
        });
        return { ok: false, reason };
      }
      const stored = await deps.artifacts.put(`${input.model}/${input.runId}/model.json`, fetched.artifact);
      return {
        ok: true,
        trained: {
          artifactUri: stored.uri,
          artifactSha256: stored.sha256,
          steps: 0,
          metrics: {},
          resumedFromStep: null,
          skippedCheckpoints: [],
        },
        source: { mlflowVersion: input.mlflowVersion, mlflowRunId: fetched.runId, tags: fetched.tags },
      };
    },
  };
}
