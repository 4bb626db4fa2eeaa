import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { TemporalFailure } from '@temporalio/common';
import { describeDatabaseError, isDatabaseError, isDatabaseUnavailable } from '../db/errors';
import { mergeRunReport } from '../db/registry';
import { parseCsv, toCsv } from '../domain/csv';
import { splitHoldout } from '../domain/data-validation';
import type { DataSchema, TrainingPolicy } from '../domain/policy';
import { readDataText, sha256 } from '../storage/artifact-store';
import { type CheckpointAnnouncement, TrainerError } from '../trainers/trainer';
import type { ActivityDeps } from './deps';
import { driftFeatures, storeReferenceSketch } from './drift';
import { heartbeatWhile } from './heartbeats';

/** A checkpoint in the shared artifact store. */
export interface CheckpointRef {
  readonly uri: string;
  readonly step: number;
  readonly checksum: string;
}

/**
 * What the training activity heartbeats, and what its failures carry: enough
 * for the next attempt, on any worker, to resume from the newest checkpoint
 * that still verifies.
 */
export interface TrainHeartbeat {
  readonly step: number;
  readonly total: number | null;
  readonly checkpoints: readonly CheckpointRef[];
  readonly metrics: Readonly<Record<string, number>>;
}

export interface TrainedCandidate {
  readonly artifactUri: string;
  readonly artifactSha256: string;
  readonly steps: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly resumedFromStep: number | null;
  readonly skippedCheckpoints: readonly string[];
  /**
   * The drift reference sketch of the training data (activities/drift storeReferenceSketch);
   * absent when it could not be made, and drift reports then read the data itself.
   */
  readonly referenceSketchUri?: string;
}

/** Failure types the run workflow budgets separately. */
export const TRAINER_PREEMPTED = 'TrainerPreempted';
export const TRAINER_CRASHED = 'TrainerCrashed';
export const INVALID_HYPERPARAMETERS = 'InvalidHyperParameters';

/** Heartbeats while data, checkpoints and the artifact move (the worker flushes at most every second anyway). */
const LOAD_HEARTBEAT_MS = 1_000;

/**
 * Progress, new checkpoints included, is written to the run's record at most
 * this often (and at the end); the record lags the heartbeat by up to this.
 */
const PROGRESS_WRITE_MS = 1_000;

/**
 * How long the final training report is retried while the database is away,
 * heartbeating meanwhile. After that the attempt fails as preempted: the run
 * retries it with backoff (its preemption budget) from the last checkpoint,
 * the finished model's, so an outage costs a retry, not the training.
 */
const FINAL_REPORT_RETRY_MS = 10_000;

export function createTrainingActivities({ db, artifacts, trainers, log, device }: ActivityDeps) {
  /** Newest checkpoint whose bytes still match their checksum, copied to `dir`; older ones are the fallback. */
  async function resumePoint(checkpoints: readonly CheckpointRef[], dir: string) {
    const skipped: string[] = [];
    for (const ref of [...checkpoints].sort((a, b) => b.step - a.step)) {
      try {
        const data = await artifacts.get(ref.uri);
        if (sha256(data) !== ref.checksum) {
          skipped.push(`${ref.uri} (checksum mismatch)`);
          continue;
        }
        const local = path.join(dir, path.posix.basename(ref.uri));
        await writeFile(local, data);
        return { resume: { path: local, step: ref.step, ref }, skipped };
      } catch (err) {
        skipped.push(`${ref.uri} (${(err as Error).message})`);
      }
    }
    return { resume: null, skipped };
  }

  const saveProgress = (runId: string, progress: Record<string, unknown>) =>
    mergeRunReport(db, runId, 'training', progress);

  /**
   * Progress reports beside training. Each one replaces the last in the run's
   * record, so one lost while the database is away is made good by the next;
   * it is not worth failing (or, unhandled, killing the worker during) a
   * training whose checkpoints are safe in the artifact store and heartbeated.
   */
  const progressWriter = (runId: string) => {
    let failing = false;
    return async (progress: Record<string, unknown>) => {
      try {
        await saveProgress(runId, progress);
        if (failing) log.info({ runId }, 'training progress written to the run record again');
        failing = false;
      } catch (err) {
        // One line per outage, not one per second.
        if (!failing) {
          log.warn(
            { runId, reason: describeDatabaseError(err), databaseUnavailable: isDatabaseUnavailable(err) },
            'training progress not written to the run record; training goes on, the next report replaces it',
          );
        }
        failing = true;
      }
    };
  };

  /**
   * The last report (the run's record of the finished training) matters:
   * while the database is unavailable it is retried for a while,
   * heartbeating so the run sees a live activity.
   */
  const saveFinalProgress = async (
    runId: string,
    progress: Record<string, unknown>,
    ctx: Context,
    beat: () => TrainHeartbeat,
  ) => {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await saveProgress(runId, progress);
      } catch (err) {
        if (!isDatabaseUnavailable(err) || Date.now() - started > FINAL_REPORT_RETRY_MS) throw err;
        // Short enough that the heartbeat before each try keeps within the heartbeat timeout.
        const delayMs = Math.min(
          1_000,
          (ctx.info.heartbeatTimeoutMs ?? 10_000) / 3,
          250 * 2 ** (attempt - 1),
        );
        if (attempt === 1) {
          log.warn(
            { runId, reason: describeDatabaseError(err) },
            'database unavailable; retrying the final training report',
          );
        }
        ctx.heartbeat(beat());
        await ctx.sleep(delayMs);
      }
    }
  };

  /**
   * The drift reference sketch of the version's data, made once here so that every later drift
   * report against this version reads it instead of re-reading and sorting the data. A sketch
   * that cannot be made (a feature without values, a store error) is logged, not fatal: the
   * drift report then reads the data, as for a version from elsewhere.
   */
  const sketchOfTrainingData = async (input: {
    model: string;
    runId: string;
    dataUri: string;
    schema: DataSchema;
  }): Promise<string | undefined> => {
    try {
      return await storeReferenceSketch(artifacts, {
        key: `${input.model}/${input.runId}/reference-sketch.bin`,
        dataUri: input.dataUri,
        features: driftFeatures(input.schema),
      });
    } catch (err) {
      log.warn({ runId: input.runId, err }, 'no drift reference sketch for this version');
      return undefined;
    }
  };

  return {
    /**
     * Trains a candidate on the training rows. Every checkpoint is copied to
     * the shared artifact store and heartbeated; progress is heartbeated in
     * between, so a dead worker is noticed within the heartbeat timeout. The
     * run workflow retries with the checkpoints this attempt reported.
     */
    async trainCandidate(input: {
      model: string;
      runId: string;
      dataUri: string;
      schema: DataSchema;
      training: TrainingPolicy;
      /** Checkpoints reported by earlier attempts, newest last. */
      checkpoints: readonly CheckpointRef[];
      attempt: number;
    }): Promise<TrainedCandidate> {
      const ctx = Context.current();
      const trainer = trainers[input.training.trainer];
      if (!trainer) {
        throw ApplicationFailure.nonRetryable(
          `no trainer named ${input.training.trainer} on this worker (has: ${Object.keys(trainers).join(', ')})`,
          INVALID_HYPERPARAMETERS,
        );
      }
      // What a failure reports to the run, so the next attempt resumes from this attempt's checkpoints.
      let beat: TrainHeartbeat = { step: 0, total: null, checkpoints: input.checkpoints, metrics: {} };
      const workdir = path.join(tmpdir(), 'ctloop-train', input.runId, randomUUID());
      const checkpointDir = path.join(workdir, 'checkpoints');
      const outputDir = path.join(workdir, 'output');
      await mkdir(checkpointDir, { recursive: true });
      await mkdir(outputDir, { recursive: true });
      // Until the trainer runs, heartbeats carry the checkpoints this attempt was given: a worker lost
      // while loading a large dataset or downloading a checkpoint hands them on to the next attempt,
      // and a slow load is not taken for a lost worker.
      const carried: TrainHeartbeat = {
        step: input.checkpoints.at(-1)?.step ?? 0,
        total: null,
        checkpoints: input.checkpoints,
        metrics: {},
      };
      const dataPath = path.join(workdir, 'train.csv');
      try {
        await heartbeatWhile(
          () => carried,
          async () => {
            const table = parseCsv(await readDataText(artifacts, input.dataUri));
            ctx.heartbeat(carried);
            const { train } = splitHoldout(table.rows, input.training.holdoutFraction);
            const csv = toCsv(table.columns, train);
            ctx.heartbeat(carried);
            await writeFile(dataPath, csv);
          },
          LOAD_HEARTBEAT_MS,
        );

        const { resume, skipped } = await heartbeatWhile(
          () => carried,
          () => resumePoint(input.checkpoints, workdir),
          LOAD_HEARTBEAT_MS,
        );
        for (const s of skipped) log.warn({ runId: input.runId, checkpoint: s }, 'checkpoint skipped');
        if (resume) log.info({ runId: input.runId, step: resume.step }, 'resuming training from checkpoint');

        let checkpoints: CheckpointRef[] = resume
          ? input.checkpoints.filter((c) => c.step <= resume.step)
          : [];
        beat = { step: resume?.step ?? 0, total: null, checkpoints, metrics: {} };
        const writeProgress = progressWriter(input.runId);
        const started = Date.now();
        const startStep = beat.step;
        let lastWrite = 0;
        const progressReport = () => ({
          step: beat.step,
          total: beat.total,
          metrics: beat.metrics,
          stepsPerSecond: Number(
            ((beat.step - startStep) / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(3),
          ),
          lastCheckpoint: checkpoints.at(-1) ?? null,
          /** The checkpoints kept in the artifact store (the last keepCheckpoints), for lineage. */
          checkpoints,
          attempt: input.attempt,
          resumedFromStep: resume?.step ?? null,
          trainer: trainer.name,
          device,
          worker: `${hostname()}/${process.pid}`,
        });
        const prefix = `${input.model}/${input.runId}/checkpoints`;
        // Book-keeping after a checkpoint is durable (pruning, progress in the run's record, removing
        // the local file) and the periodic progress writes run beside training, one at a time, in order.
        let housekeeping: Promise<void> = Promise.resolve();
        /**
         * A checkpoint enters the heartbeat (and the progress report) only once the shared store
         * holds it, synced and renamed into place, with its checksum: a resume never sees one that
         * is not on disk. The builtin trainer trains on meanwhile, on its own thread, but hands over
         * its next checkpoint only after this one is stored (compute/logreg-threads.ts), so the work it
         * loses with a worker is at most one interval plus the steps trained during one store (at
         * most another interval), plus one heartbeat flush.
         */
        const storeCheckpoint = async (c: CheckpointAnnouncement) => {
          const file = 'path' in c ? c.path : null;
          const data = 'path' in c ? await readFile(c.path) : c.data;
          if (sha256(data) !== c.checksum) {
            log.warn(
              { runId: input.runId, file: file ?? `step ${c.step}, in memory` },
              'trainer checkpoint does not match its checksum; ignored',
            );
            return;
          }
          const extension = 'path' in c ? path.extname(c.path) : c.extension;
          const key = `${prefix}/step-${String(c.step).padStart(8, '0')}${extension}`;
          const stored = await heartbeatWhile(
            () => beat,
            () => artifacts.put(key, data),
            LOAD_HEARTBEAT_MS,
          );
          const keep = input.training.keepCheckpoints;
          const all = [
            ...checkpoints.filter((k) => k.step !== c.step),
            { uri: stored.uri, step: c.step, checksum: c.checksum },
          ];
          checkpoints = all.slice(-keep);
          beat = { ...beat, step: Math.max(beat.step, c.step), checkpoints };
          ctx.heartbeat(beat);
          // The run's record gets a checkpoint on the progress schedule, not each one at once: a
          // database write (query, socket write, reply) runs on the training thread, so at short
          // intervals one per checkpoint adds up; resumes read the heartbeat, not the record.
          let report: Record<string, unknown> | null = null;
          if (Date.now() - lastWrite > PROGRESS_WRITE_MS) {
            lastWrite = Date.now();
            report = progressReport();
          }
          housekeeping = housekeeping
            .then(async () => {
              for (const old of all.slice(0, Math.max(0, all.length - keep))) await artifacts.remove(old.uri);
              if (report) await writeProgress(report);
              if (file) await rm(file, { force: true });
            })
            // The checkpoint itself is stored and heartbeated; a failed clean-up only leaves a file behind.
            .catch((err) => log.warn({ runId: input.runId, err }, 'checkpoint clean-up failed'));
        };

        let result: Awaited<ReturnType<typeof trainer.train>>;
        try {
          result = await trainer.train({
            dataPath,
            features: input.schema.features.map((f) => f.name),
            label: input.schema.label,
            params: input.training.params,
            checkpointEvery: input.training.checkpointEvery,
            checkpointDir,
            outputDir,
            resumeFrom: resume ? { path: resume.path, step: resume.step } : null,
            device,
            signal: ctx.cancellationSignal,
            onProgress: ({ step, total, metrics }) => {
              beat = { ...beat, step, total, metrics };
              ctx.heartbeat(beat);
              if (Date.now() - lastWrite > PROGRESS_WRITE_MS) {
                lastWrite = Date.now();
                const report = progressReport();
                // On the same chain as the checkpoint book-keeping, so writes land in order and none
                // lands after the final report; a failed progress write is not worth failing training.
                housekeeping = housekeeping.then(() => writeProgress(report));
              }
            },
            onCheckpoint: storeCheckpoint,
          });
          await housekeeping;
        } catch (err) {
          await housekeeping;
          if (!(err instanceof TrainerError)) throw err;
          const details = { ...beat, stderrTail: err.stderrTail, exitCode: err.exitCode };
          await writeProgress({ ...progressReport(), lastError: err.message });
          const type =
            err.kind === 'preempted'
              ? TRAINER_PREEMPTED
              : err.kind === 'invalid_params'
                ? INVALID_HYPERPARAMETERS
                : TRAINER_CRASHED;
          // Not retried by Temporal: the run workflow keeps a budget per kind of failure.
          throw ApplicationFailure.create({
            message: err.message,
            type,
            nonRetryable: true,
            details: [details],
          });
        }

        const { uri, sha256: artifactSha256 } = await heartbeatWhile(
          () => beat,
          async () =>
            artifacts.put(`${input.model}/${input.runId}/model.json`, await readFile(result.artifactPath)),
          LOAD_HEARTBEAT_MS,
        );
        beat = { ...beat, step: result.steps };
        const referenceSketchUri = await heartbeatWhile(
          () => beat,
          () => sketchOfTrainingData(input),
          LOAD_HEARTBEAT_MS,
        );
        await saveFinalProgress(input.runId, { ...progressReport(), done: true }, ctx, () => beat);
        return {
          artifactUri: uri,
          artifactSha256,
          steps: result.steps,
          metrics: result.metrics,
          resumedFromStep: resume?.step ?? null,
          skippedCheckpoints: skipped,
          ...(referenceSketchUri ? { referenceSketchUri } : {}),
        };
      } catch (err) {
        throw withCheckpoints(err, beat);
      } finally {
        await rm(workdir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Any other failure (the artifact store, the database, a bug) still carries
 * the attempt's heartbeat, as a trainer failure does: without it the run
 * retried from step 0 and threw away every checkpoint of the attempt. A
 * database outage is the infrastructure's, not the trainer's: it is
 * reported as a preemption (retried with backoff on the larger budget), not
 * as a crash. Temporal's own failures (cancellation, an ApplicationFailure
 * made above) pass through unchanged.
 */
function withCheckpoints(err: unknown, beat: TrainHeartbeat): unknown {
  if (err instanceof TemporalFailure || !(err instanceof Error)) return err;
  if (isDatabaseUnavailable(err)) {
    return ApplicationFailure.create({
      message: `database unavailable: ${describeDatabaseError(err)}`,
      type: TRAINER_PREEMPTED,
      nonRetryable: true,
      details: [beat],
    });
  }
  return ApplicationFailure.create({
    // Never the SQL text of a failed statement: this message is shown with the run.
    message: isDatabaseError(err) ? `database error: ${describeDatabaseError(err)}` : err.message,
    type: err.name || 'Error',
    details: [beat],
    cause: isDatabaseError(err) ? undefined : err,
  });
}
