import { ApplicationFailure } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import { runDatasetTask } from '../compute/dataset-threads';
import { type DatasetPhase, DatasetProblem } from '../compute/dataset-work';
import { evaluationReportHash, findVersion } from '../db/registry';
import { modelVersions } from '../db/schema';
import type { EvaluationGateResult } from '../domain/evaluation/gate';
import type { ClassificationMetrics } from '../domain/metrics';
import type { DataSchema, EvaluationPolicy } from '../domain/policy';
import { isServableModel, type ServableModel } from '../domain/servable-model';
import { readDataText } from '../storage/artifact-store';
import type { ActivityDeps } from './deps';
import { heartbeatWhile } from './heartbeats';

export interface EvaluationReport {
  readonly holdoutRows: number;
  readonly candidateVersion: number;
  readonly championVersion: number | null;
  readonly candidate: ClassificationMetrics;
  readonly champion: ClassificationMetrics | null;
  /** The gate's decision and reasons (what the run acts on). */
  readonly verdict: {
    readonly decision: EvaluationGateResult['decision'];
    readonly reasons: readonly string[];
  };
  /** The statistics behind it: the primary test, guardrail intervals, slices, minimums. */
  readonly gate: EvaluationGateResult;
}

export function createEvaluationActivities(deps: ActivityDeps) {
  const { db, artifacts } = deps;
  async function loadModel(model: string, version: number): Promise<ServableModel> {
    const row = await findVersion(db, model, version);
    if (!row) throw ApplicationFailure.nonRetryable(`version ${version} of ${model} is not registered`);
    const parsed: unknown = JSON.parse((await artifacts.get(row.artifactUri)).toString('utf8'));
    if (!isServableModel(parsed))
      throw ApplicationFailure.nonRetryable(`artifact of version ${version} is not a model`);
    return parsed;
  }

  return {
    /**
     * Scores champion and candidate on the same hold-out rows and applies the
     * evaluation gate; the report is stored with the candidate version.
     */
    async evaluateCandidate(input: {
      model: string;
      candidateVersion: number;
      championVersion: number | null;
      dataUri: string;
      schema: DataSchema;
      holdoutFraction: number;
      policy: EvaluationPolicy;
    }): Promise<EvaluationReport> {
      let phase: DatasetPhase | 'reading' = 'reading';
      const scored = await heartbeatWhile(
        () => ({ phase }),
        async (signal) => {
          const text = await readDataText(artifacts, input.dataUri);
          const candidate = await loadModel(input.model, input.candidateVersion);
          const champion =
            input.championVersion === null ? null : await loadModel(input.model, input.championVersion);
          // Parsing, scoring and the gate's resampling run on a thread of their own, so the
          // worker's event loop keeps answering (compute/dataset-threads).
          return runDatasetTask(
            {
              kind: 'evaluate',
              text,
              schema: input.schema,
              holdoutFraction: input.holdoutFraction,
              policy: input.policy,
              candidate,
              champion,
            },
            {
              signal,
              onPhase: (p) => {
                phase = p;
              },
            },
          ).catch((err) => {
            if (err instanceof DatasetProblem) throw ApplicationFailure.nonRetryable(err.message);
            throw err;
          });
        },
      );
      const { gate } = scored;
      const report: EvaluationReport = {
        holdoutRows: scored.holdoutRows,
        candidateVersion: input.candidateVersion,
        championVersion: input.championVersion,
        candidate: scored.candidate,
        champion: scored.champion,
        verdict: { decision: gate.decision, reasons: gate.reasons },
        gate,
      };
      await db
        .update(modelVersions)
        .set({ evaluation: report })
        .where(and(eq(modelVersions.model, input.model), eq(modelVersions.version, input.candidateVersion)));
      // The MLflow version says which evaluation it had (the hash approvers decide on).
      await deps.mlflow?.tagVersion(input.model, input.candidateVersion, {
        'ctloop.evaluation_hash': evaluationReportHash(report) ?? '',
        'ctloop.evaluation_decision': gate.decision,
      });
      return report;
    },
  };
}
