import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { mergeRunReport } from '../db/registry';
import { parseCsv, toCsv } from '../domain/csv';
import { splitHoldout } from '../domain/data-validation';
import type { DataSchema, TrainingPolicy } from '../domain/policy';
import { readDataText, sha256 } from '../storage/artifact-store';
import { TrainerError } from '../trainers/trainer';
import type { ActivityDeps } from './deps';
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
}

/** Failure types the run workflow budgets separately. */
export const TRAINER_PREEMPTED = 'TrainerPreempted';
export const TRAINER_CRASHED = 'TrainerCrashed';
export const INVALID_HYPERPARAMETERS = 'InvalidHyperParameters';

/** Heartbeats while data, checkpoints and the artifact move (the worker flushes at most every second anyway). */
const LOAD_HEARTBEAT_MS = 1_000;

/** Progress is written to the run's record at most this often (checkpoints always). */
const PROGRESS_WRITE_MS = 1_000;

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
        let beat: TrainHeartbeat = { step: resume?.step ?? 0, total: null, checkpoints, metrics: {} };
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
         * A checkpoint is stored in the shared store and heartbeated before training goes on, so
         * the work lost with a worker is at most one interval plus one heartbeat flush.
         */
        const storeCheckpoint = async (c: { path: string; step: number; checksum: string }) => {
          const data = await readFile(c.path);
          if (sha256(data) !== c.checksum) {
            log.warn(
              { runId: input.runId, file: c.path },
              'trainer checkpoint does not match its checksum; ignored',
            );
            return;
          }
          const key = `${prefix}/step-${String(c.step).padStart(8, '0')}${path.extname(c.path)}`;
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
          lastWrite = Date.now();
          const report = progressReport();
          housekeeping = housekeeping.then(async () => {
            for (const old of all.slice(0, Math.max(0, all.length - keep))) await artifacts.remove(old.uri);
            await saveProgress(input.runId, report);
            await rm(c.path, { force: true });
          });
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
                housekeeping = housekeeping.then(() => saveProgress(input.runId, report).catch(() => {}));
              }
            },
            onCheckpoint: storeCheckpoint,
          });
          await housekeeping;
        } catch (err) {
          await housekeeping.catch(() => {});
          if (!(err instanceof TrainerError)) throw err;
          const details = { ...beat, stderrTail: err.stderrTail, exitCode: err.exitCode };
          await saveProgress(input.runId, { ...progressReport(), lastError: err.message });
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
        await saveProgress(input.runId, { ...progressReport(), done: true });
        return {
          artifactUri: uri,
          artifactSha256,
          steps: result.steps,
          metrics: result.metrics,
          resumedFromStep: resume?.step ?? null,
          skippedCheckpoints: skipped,
        };
      } finally {
        await rm(workdir, { recursive: true, force: true });
      }
    },
  };
}
