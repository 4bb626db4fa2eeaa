import { ApplicationFailure } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import { findVersion } from '../db/registry';
import { modelVersions } from '../db/schema';
import { parseCsv } from '../domain/csv';
import { splitHoldout, toMatrix } from '../domain/data-validation';
import { type EvaluationGateResult, evaluationGate } from '../domain/evaluation/gate';
import { type ClassificationMetrics, classificationMetrics } from '../domain/metrics';
import type { DataSchema, EvaluationPolicy } from '../domain/policy';
import { isServableModel, predictServable, type ServableModel } from '../domain/servable-model';
import { readDataText } from '../storage/artifact-store';
import type { ActivityDeps } from './deps';

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

export function createEvaluationActivities({ db, artifacts }: ActivityDeps) {
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
      const table = parseCsv(await readDataText(artifacts, input.dataUri));
      const { X, y } = toMatrix(table, input.schema);
      const holdoutX = splitHoldout(X, input.holdoutFraction).holdout;
      const holdoutY = splitHoldout(y, input.holdoutFraction).holdout;
      const scores = (m: ServableModel) => holdoutX.map((row) => predictServable(m, row));
      const candidateScores = scores(await loadModel(input.model, input.candidateVersion));
      const championScores =
        input.championVersion === null ? null : scores(await loadModel(input.model, input.championVersion));
      const segments = sliceColumn(table, input.policy.slices?.column, input.holdoutFraction);
      const gate = evaluationGate({
        yTrue: holdoutY,
        candidate: candidateScores,
        champion: championScores,
        segments,
        policy: input.policy,
      });
      const report: EvaluationReport = {
        holdoutRows: holdoutY.length,
        candidateVersion: input.candidateVersion,
        championVersion: input.championVersion,
        candidate: classificationMetrics(holdoutY, candidateScores, input.policy.threshold),
        champion: championScores && classificationMetrics(holdoutY, championScores, input.policy.threshold),
        verdict: { decision: gate.decision, reasons: gate.reasons },
        gate,
      };
      await db
        .update(modelVersions)
        .set({ evaluation: report })
        .where(and(eq(modelVersions.model, input.model), eq(modelVersions.version, input.candidateVersion)));
      return report;
    },
  };
}

/** The hold-out rows' values of the policy's segment column, when it names one. */
function sliceColumn(
  table: ReturnType<typeof parseCsv>,
  column: string | undefined,
  holdoutFraction: number,
): Record<string, string[]> | undefined {
  if (!column) return undefined;
  const index = table.columns.indexOf(column);
  if (index < 0) {
    throw ApplicationFailure.nonRetryable(
      `the policy slices by column ${column}, which the data does not have`,
    );
  }
  return { [column]: splitHoldout(table.rows, holdoutFraction).holdout.map((row) => row[index] ?? '') };
}
