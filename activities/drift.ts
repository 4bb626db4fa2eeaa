import { ApplicationFailure } from '@temporalio/activity';
import { eq, sql } from 'drizzle-orm';
import {
  csvColumnsOnThread,
  driftThreadCount,
  measureFeaturesOnThreads,
  measureSketchedParquetOnThreads,
} from '../compute/drift-threads';
import { parquetFileColumnGroups } from '../compute/parquet-file';
import { championVersion, findModel, findVersion } from '../db/registry';
import { driftReports } from '../db/schema';
import { csvColumns } from '../domain/drift/csv-columns';
import { parquetColumns } from '../domain/drift/parquet-columns';
import { type DriftPolicyInput, driftPolicySchema } from '../domain/drift/policy';
import { type FeatureSketch, referenceSketch, SKETCH_RESOLUTION } from '../domain/drift/reference-sketch';
import {
  assembleDriftReport,
  type ColumnarData,
  checkDriftFeatures,
  type DriftFeature,
  type DriftReport,
  driftReport,
  type MeasuredFeature,
} from '../domain/drift/report';
import { decodeReferenceSketch, encodeReferenceSketch } from '../domain/drift/sketch-codec';
import { measureFeatureAgainstSketch, sketchServes } from '../domain/drift/sketch-drift';
import { type DataSchema, parseStoredSection } from '../domain/policy';
import { InvalidPolicyError } from '../domain/policy-bounds';
import type { ArtifactStore } from '../storage/artifact-store';
import { readWholeFile } from '../storage/read-whole-file';
import type { ActivityDeps } from './deps';
import { heartbeatWhile } from './heartbeats';

/**
 * A dataset's bytes, by the URI rules of `readDataText` (`artifact://` key,
 * `file://` URI or path). Bytes, not text: the CSV reader scans bytes, and a
 * batch of a few hundred megabytes is not decoded into a string first.
 */
export async function readDataBytes(store: ArtifactStore, uri: string): Promise<Uint8Array> {
  if (uri.startsWith('artifact://')) return store.get(uri);
  return readWholeFile(uri.startsWith('file://') ? new URL(uri).pathname : uri);
}

const isParquet = (uri: string) => /\.parquet$/i.test(uri);

/** A dataset's feature columns: Parquet when the URI ends in `.parquet`, CSV otherwise. */
export async function readDataColumns(
  store: ArtifactStore,
  uri: string,
  features: readonly DriftFeature[],
): Promise<ColumnarData> {
  return columnsOf(await readDataBytes(store, uri), uri, features);
}

async function columnsOf(
  bytes: Uint8Array,
  uri: string,
  features: readonly DriftFeature[],
): Promise<ColumnarData> {
  return isParquet(uri) ? parquetColumns(bytes, features) : csvColumns(bytes, features);
}

/**
 * The drift report of the data at `currentUri` against the data at
 * `referenceUri`, as the drift activity computes it. With one thread: both
 * files are read at once (the current batch's read goes on, on libuv's pool,
 * while the reference is parsed), then parsed one after the other, then
 * `driftReport`. With more
 * (compute/drift-threads): both files are read at once, parsed on two threads
 * at once, and the features measured in `threads` groups; the report is the
 * same, and so is the error when something is wrong (the reference's before
 * the current batch's, then the policy's, then the first failing feature's).
 */
export async function driftReportOfData(
  store: ArtifactStore,
  input: {
    referenceUri: string;
    currentUri: string;
    features: readonly DriftFeature[];
    policy?: DriftPolicyInput;
  },
  threads: number = driftThreadCount(),
): Promise<DriftReport> {
  const { referenceUri, currentUri, features } = input;
  if (threads <= 1) {
    const readingReference = readDataBytes(store, referenceUri);
    const readingCurrent = readDataBytes(store, currentUri);
    readingCurrent.catch(() => {}); // its failure is reported below, after the reference's
    const reference = await columnsOf(await readingReference, referenceUri, features);
    const current = await columnsOf(await readingCurrent, currentUri, features);
    return driftReport({ reference, current, features, policy: input.policy });
  }
  const [referenceBytes, currentBytes] = await Promise.allSettled([
    readDataBytes(store, referenceUri),
    readDataBytes(store, currentUri),
  ]);
  if (referenceBytes.status === 'rejected') throw referenceBytes.reason;
  const parse = (bytes: Uint8Array, uri: string) =>
    isParquet(uri) ? parquetColumns(bytes, features) : csvColumnsOnThread(bytes, features, threads);
  const parsingReference = parse(referenceBytes.value, referenceUri);
  const parsingCurrent =
    currentBytes.status === 'fulfilled' ? parse(currentBytes.value, currentUri) : undefined;
  parsingCurrent?.catch(() => {}); // its failure is reported below, after the reference's
  const reference = await parsingReference;
  if (currentBytes.status === 'rejected') throw currentBytes.reason;
  const current = await parsingCurrent!;
  const policy = driftPolicySchema.parse(input.policy ?? {});
  checkDriftFeatures(features);
  const measured = await measureFeaturesOnThreads(features, { reference, current }, policy, threads);
  return assembleDriftReport(measured, policy);
}

/**
 * Reads the data at `dataUri`, sketches its drift features
 * (domain/drift/reference-sketch) and stores the sketch under `key`; returns its URI.
 */
export async function storeReferenceSketch(
  store: ArtifactStore,
  input: { key: string; dataUri: string; features: readonly DriftFeature[] },
): Promise<string> {
  const features = new Map<string, FeatureSketch>();
  let resolution = SKETCH_RESOLUTION;
  for await (const columns of dataColumnGroups(store, input.dataUri, input.features, 1)) {
    const group = input.features.filter((f) => Object.hasOwn(columns, f.name));
    const sketch = referenceSketch(columns, group);
    resolution = sketch.resolution;
    for (const [name, f] of sketch.features) features.set(name, f);
  }
  return (await store.put(input.key, encodeReferenceSketch({ resolution, features }))).uri;
}

/** Numeric columns read at once from a Parquet batch measured against a sketch (about 8 MB each a million rows). */
export const SKETCH_COLUMN_GROUP = 16;

/**
 * The drift report of the data at `currentUri` against the reference sketch
 * at `sketchUri` (domain/drift/sketch-drift), or null when the sketch cannot
 * serve these features under this policy (then the caller compares with the
 * reference data). A local Parquet batch is read SKETCH_COLUMN_GROUP columns
 * at a time, measured and let go: memory stays bounded by the group, not the
 * batch (a million rows by a thousand columns is 8 GB of doubles). A CSV
 * batch is parsed whole, as for the exact report (a text file cannot be read
 * column by column).
 */
export async function driftReportOfSketch(
  store: ArtifactStore,
  input: {
    sketchUri: string;
    currentUri: string;
    features: readonly DriftFeature[];
    policy?: DriftPolicyInput;
  },
  threads: number = driftThreadCount(),
): Promise<DriftReport | null> {
  const { features } = input;
  const policy = driftPolicySchema.parse(input.policy ?? {});
  checkDriftFeatures(features);
  const sketch = decodeReferenceSketch(await store.get(input.sketchUri));
  if (!sketchServes(sketch, features, policy)) return null;
  const localParquet = isParquet(input.currentUri) && !input.currentUri.startsWith('artifact://');
  if (threads > 1 && localParquet) {
    // Each thread reads and measures its own column groups; the sketch's arrays are copied to it.
    const measured = await measureSketchedParquetOnThreads(
      localPath(input.currentUri),
      features,
      sketch,
      policy,
      { threads, group: SKETCH_COLUMN_GROUP },
    );
    return {
      ...assembleDriftReport(measured, policy),
      referenceSketch: { uri: input.sketchUri, resolution: sketch.resolution },
    };
  }
  const measured: MeasuredFeature[] = [];
  for await (const current of dataColumnGroups(store, input.currentUri, features, threads)) {
    for (const feature of features) {
      if (Object.hasOwn(current, feature.name))
        measured.push(measureFeatureAgainstSketch(feature, sketch, current, policy));
    }
  }
  return {
    ...assembleDriftReport(measured, policy),
    referenceSketch: { uri: input.sketchUri, resolution: sketch.resolution },
  };
}

/** A dataset's feature columns, in feature order: in groups for a local Parquet file, else whole. */
export async function* dataColumnGroups(
  store: ArtifactStore,
  uri: string,
  features: readonly DriftFeature[],
  threads: number,
): AsyncGenerator<ColumnarData> {
  if (!isParquet(uri) || uri.startsWith('artifact://')) {
    const bytes = await readDataBytes(store, uri);
    yield isParquet(uri)
      ? await parquetColumns(bytes, features)
      : threads > 1
        ? await csvColumnsOnThread(bytes, features, threads)
        : csvColumns(bytes, features);
    return;
  }
  yield* parquetFileColumnGroups(localPath(uri), features, SKETCH_COLUMN_GROUP);
}

const localPath = (uri: string) => (uri.startsWith('file://') ? new URL(uri).pathname : uri);

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
      let policy: { schema: DataSchema; drift: ReturnType<typeof parseStoredSection<'drift'>> };
      try {
        policy = {
          schema: parseStoredSection(model.policy, input.model, 'schema'),
          drift: parseStoredSection(model.policy, input.model, 'drift'),
        };
      } catch (err) {
        if (err instanceof InvalidPolicyError) return fail(err.message);
        throw err;
      }
      const champion = await championVersion(db, input.model);
      const reference = champion === null ? null : await findVersion(db, input.model, champion);
      if (!reference)
        return fail('the model has no champion yet, so there is no training reference to compare with');
      let report: DriftReport;
      try {
        // Parsing and measuring run on the drift threads; heartbeats tell a long comparison from a lost worker.
        report = await heartbeatWhile(
          () => ({ phase: 'comparing', reportId: input.reportId }),
          async () => {
            const input = {
              currentUri: row.currentUri!,
              features: driftFeatures(policy.schema),
              policy: policy.drift,
            };
            // The version's sketch when it has one that serves this policy; its data otherwise.
            const sketched = reference.referenceSketchUri
              ? await driftReportOfSketch(artifacts, { ...input, sketchUri: reference.referenceSketchUri })
              : null;
            return sketched ?? driftReportOfData(artifacts, { ...input, referenceUri: reference.dataUri });
          },
        );
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
