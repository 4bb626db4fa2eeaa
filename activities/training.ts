import { ApplicationFailure, Context } from '@temporalio/activity';
import { eq, sql } from 'drizzle-orm';
import { runs } from '../db/schema';
import { parseCsv } from '../domain/csv';
import { splitHoldout, toMatrix } from '../domain/data-validation';
import { predictProba } from '../domain/logistic-regression';
import { classificationMetrics } from '../domain/metrics';
import type { DataSchema, TrainingPolicy } from '../domain/policy';
import { readDataText, sha256 } from '../storage/artifact-store';
import type { TrainerCheckpoint } from '../trainers/trainer';
import type { ActivityDeps } from './deps';

/** What the training activity heartbeats; a retry on another worker resumes from it. */
export interface TrainHeartbeat {
  readonly epoch: number;
  readonly epochs: number;
  readonly loss: number | null;
  readonly checkpoint: string | null;
  readonly checksum: string | null;
  readonly checkpointEpoch: number | null;
}

export interface TrainedCandidate {
  readonly artifactUri: string;
  readonly artifactSha256: string;
  readonly epochs: number;
  readonly loss: number;
  readonly trainMetrics: { accuracy: number; logLoss: number };
  readonly resumedFromEpoch: number | null;
}

const KEEP_CHECKPOINTS = 3;

export function createTrainingActivities({ db, artifacts, trainers, log }: ActivityDeps) {
  /** The newest checkpoint named by the last heartbeat, verified; null when there is none or it is damaged. */
  async function resumePoint(last: TrainHeartbeat | undefined): Promise<TrainerCheckpoint | null> {
    if (!last?.checkpoint || !last.checksum) return null;
    try {
      const data = await artifacts.get(last.checkpoint);
      if (sha256(data) !== last.checksum) {
        log.warn({ checkpoint: last.checkpoint }, 'checkpoint checksum mismatch; training starts over');
        return null;
      }
      return JSON.parse(data.toString('utf8')) as TrainerCheckpoint;
    } catch (err) {
      log.warn({ err, checkpoint: last.checkpoint }, 'checkpoint unreadable; training starts over');
      return null;
    }
  }

  return {
    /**
     * Trains a candidate on the training part of the data. Heartbeats every
     * checkpoint (and progress between them, so a dead worker is noticed within
     * the heartbeat timeout); a retry resumes from the last good checkpoint.
     */
    async trainCandidate(input: {
      model: string;
      runId: string;
      dataUri: string;
      schema: DataSchema;
      training: TrainingPolicy;
    }): Promise<TrainedCandidate> {
      const ctx = Context.current();
      const trainer = trainers[input.training.trainer];
      if (!trainer) {
        throw ApplicationFailure.nonRetryable(`no trainer named ${input.training.trainer}`, 'UnknownTrainer');
      }
      const table = parseCsv(await readDataText(artifacts, input.dataUri));
      const { X, y } = toMatrix(table, input.schema);
      const trainX = splitHoldout(X, input.training.holdoutFraction).train;
      const trainY = splitHoldout(y, input.training.holdoutFraction).train;
      const features = input.schema.features.map((f) => f.name);
      const epochs = input.training.params.epochs;

      const resumeFrom = await resumePoint(ctx.info.heartbeatDetails as TrainHeartbeat | undefined);
      if (resumeFrom) {
        log.info({ runId: input.runId, epoch: resumeFrom.epoch }, 'resuming training from checkpoint');
      }
      let beat: TrainHeartbeat = {
        epoch: resumeFrom?.epoch ?? 0,
        epochs,
        loss: resumeFrom?.loss ?? null,
        checkpoint: null,
        checksum: null,
        checkpointEpoch: null,
      };
      const prefix = `${input.model}/${input.runId}/checkpoints`;

      const result = await trainer.train({
        features,
        X: trainX,
        y: trainY,
        params: input.training.params,
        checkpointEvery: input.training.checkpointEvery,
        resumeFrom,
        signal: ctx.cancellationSignal,
        onProgress: ({ epoch, loss }) => {
          beat = { ...beat, epoch, loss };
          ctx.heartbeat(beat);
        },
        onCheckpoint: async (checkpoint) => {
          const key = `${prefix}/epoch-${String(checkpoint.epoch).padStart(8, '0')}.json`;
          const { uri, sha256: checksum } = await artifacts.put(key, JSON.stringify(checkpoint));
          beat = { ...beat, checkpoint: uri, checksum, checkpointEpoch: checkpoint.epoch };
          ctx.heartbeat(beat);
          const progress = { epoch: checkpoint.epoch, epochs, loss: checkpoint.loss, checkpoint: uri };
          await db
            .update(runs)
            .set({ reports: sql`${runs.reports} || ${JSON.stringify({ training: progress })}::jsonb` })
            .where(eq(runs.id, input.runId));
          const stored = await artifacts.list(prefix);
          for (const old of stored.slice(0, Math.max(0, stored.length - KEEP_CHECKPOINTS))) {
            await artifacts.remove(old);
          }
        },
      });

      const { uri, sha256: artifactSha256 } = await artifacts.put(
        `${input.model}/${input.runId}/model.json`,
        JSON.stringify(result.model),
      );
      const model = result.model as Parameters<typeof predictProba>[0];
      const metrics = classificationMetrics(
        trainY,
        trainX.map((row) => predictProba(model, row)),
      );
      return {
        artifactUri: uri,
        artifactSha256,
        epochs: result.epochs,
        loss: result.loss,
        trainMetrics: { accuracy: metrics.accuracy, logLoss: metrics.logLoss },
        resumedFromEpoch: resumeFrom?.epoch ?? null,
      };
    },
  };
}
