import { ApplicationFailure } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import { findVersion } from '../db/registry';
import { modelVersions } from '../db/schema';
import { parseCsv } from '../domain/csv';
import { splitHoldout, toMatrix } from '../domain/data-validation';
import { type ClassificationMetrics, classificationMetrics } from '../domain/metrics';
import type { DataSchema, EvaluationPolicy } from '../domain/policy';
import { type PromotionVerdict, promotionGate } from '../domain/promotion-gate';
import { isServableModel, predictServable, type ServableModel } from '../domain/servable-model';
import { readDataText } from '../storage/artifact-store';
import type { ActivityDeps } from './deps';

export interface EvaluationReport {
  readonly holdoutRows: number;
  readonly candidateVersion: number;
  readonly championVersion: number | null;
  readonly candidate: ClassificationMetrics;
  readonly champion: ClassificationMetrics | null;
  readonly verdict: PromotionVerdict;
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
    /** Scores champion and candidate on the same hold-out rows and applies the promotion gate. */
    async evaluateCandidate(input: {
      model: string;
      candidateVersion: number;
      championVersion: number | null;
      dataUri: string;
      schema: DataSchema;
      holdoutFraction: number;
      policy: EvaluationPolicy;
    }): Promise<EvaluationReport> {
      const { X, y } = toMatrix(parseCsv(await readDataText(artifacts, input.dataUri)), input.schema);
      const holdoutX = splitHoldout(X, input.holdoutFraction).holdout;
      const holdoutY = splitHoldout(y, input.holdoutFraction).holdout;
      const score = (m: ServableModel) =>
        classificationMetrics(
          holdoutY,
          holdoutX.map((row) => predictServable(m, row)),
        );
      const candidate = score(await loadModel(input.model, input.candidateVersion));
      const champion =
        input.championVersion === null ? null : score(await loadModel(input.model, input.championVersion));
      const report: EvaluationReport = {
        holdoutRows: holdoutY.length,
        candidateVersion: input.candidateVersion,
        championVersion: input.championVersion,
        candidate,
        champion,
        verdict: promotionGate({ candidate, champion, policy: input.policy }),
      };
      await db
        .update(modelVersions)
        .set({ evaluation: report })
        .where(and(eq(modelVersions.model, input.model), eq(modelVersions.version, input.candidateVersion)));
      return report;
    },
  };
}
