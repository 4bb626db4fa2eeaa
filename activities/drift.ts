import { readFile } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { eq, sql } from 'drizzle-orm';
import { championVersion, findModel, findVersion } from '../db/registry';
import { driftReports } from '../db/schema';
import { csvColumns } from '../domain/drift/csv-columns';
import { parquetColumns } from '../domain/drift/parquet-columns';
import { type ColumnarData, type DriftFeature, driftReport } from '../domain/drift/report';
import { type DataSchema, parsePolicy } from '../domain/policy';
import type { ArtifactStore } from '../storage/artifact-store';
import type { ActivityDeps } from './deps';

/**
 * A dataset's bytes, by the URI rules of `readDataText` (`artifact://` key,
 * `file://` URI or path). Bytes, not text: the CSV reader scans bytes, and a
 * batch of a few hundred megabytes is not decoded into a string first.
 */
export async function readDataBytes(store: ArtifactStore, uri: string): Promise<Uint8Array> {
  if (uri.startsWith('artifact://')) return store.get(uri);
  return readFile(uri.startsWith('file://') ? new URL(uri).pathname : uri);
}

/** A dataset's feature columns: Parquet when the URI ends in `.parquet`, CSV otherwise. */
export async function readDataColumns(
  store: ArtifactStore,
  uri: string,
  features: readonly DriftFeature[],
): Promise<ColumnarData> {
  const bytes = await readDataBytes(store, uri);
  return /\.parquet$/i.test(uri) ? parquetColumns(bytes, features) : csvColumns(bytes, features);
}

/** The schema's features as the drift report compares them: categorical ones by chi-squared, the rest by KS. */
export function driftFeatures(schema: DataSchema): DriftFeature[] {
  return schema.features.map((f) => ({ name: f.name, kind: f.type ?? 'numeric' }));
}

export function createDriftActivities({ db, artifacts, submitTrigger }: ActivityDeps) {
  return {
    /**
     * Compares a batch of current data with the champion's training data,
     * feature by feature, stores the report, and triggers a retrain (reason
     * `drift`, the report as its cause) when the model's drift policy says so.
     * Idempotent: the trigger's dedup key is the report's id.
     */
    async computeDriftReport(input: {
      model: string;
      reportId: string;
    }): Promise<{ drifted: boolean; runId: string | null }> {
      const [row] = await db.select().from(driftReports).where(eq(driftReports.id, input.reportId));
      const model = await findModel(db, input.model);
      if (!row || !model)
        throw ApplicationFailure.nonRetryable(`drift report ${input.reportId} or its model is gone`);
      const fail = async (error: string) => {
        await db
          .update(driftReports)
          .set({ status: 'failed', error, completedAt: sql`now()` })
          .where(eq(driftReports.id, input.reportId));
        return { drifted: false, runId: null };
      };
      const policy = parsePolicy(model.policy);
      const champion = await championVersion(db, input.model);
      const reference = champion === null ? null : await findVersion(db, input.model, champion);
      if (!reference)
        return fail('the model has no champion yet, so there is no training reference to compare with');
      let report: ReturnType<typeof driftReport>;
      try {
        const features = driftFeatures(policy.schema);
        report = driftReport({
          reference: await readDataColumns(artifacts, reference.dataUri, features),
          current: await readDataColumns(artifacts, row.currentUri!, features),
          features,
          policy: policy.drift,
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code && code !== 'ENOENT') throw err; // a transient read error: retried
        return fail((err as Error).message);
      }
      let trigger: { triggerId: string | null; runId: string | null } = { triggerId: null, runId: null };
      if (report.verdict.drifted) {
        if (!submitTrigger) throw new Error('this worker cannot trigger runs (no Temporal client)');
        const submitted = await submitTrigger(input.model, {
          reason: 'drift',
          details: {
            driftReportId: row.id,
            dataUri: row.currentUri,
            share: report.verdict.share,
            reasons: report.verdict.reasons,
          },
          dedupKey: `drift-report/${row.id}`,
          requestedBy: row.requestedBy,
        });
        trigger = { triggerId: submitted.body.triggerId, runId: submitted.body.runId };
      }
      await db
        .update(driftReports)
        .set({
          status: 'done',
          referenceUri: reference.dataUri,
          report,
          drifted: report.verdict.drifted,
          ...trigger,
          completedAt: sql`now()`,
        })
        .where(eq(driftReports.id, input.reportId));
      return { drifted: report.verdict.drifted, runId: trigger.runId };
    },
  };
}
