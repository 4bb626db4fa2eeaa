import type { TrainingParams } from '../domain/policy';

/**
 * The seam between the training activity and whatever trains the model. The
 * activity owns data loading, checkpoint storage and heartbeats; a trainer
 * only turns data plus an optional checkpoint into a model, reporting each
 * checkpoint as it goes. Process and GPU trainers implement the same
 * interface.
 */
export interface TrainJob {
  readonly features: readonly string[];
  readonly X: readonly (readonly (number | null)[])[];
  readonly y: readonly number[];
  readonly params: TrainingParams;
  readonly checkpointEvery: number;
  /** The state of the last good checkpoint, when resuming after a lost worker. */
  readonly resumeFrom: TrainerCheckpoint | null;
  /** Awaited before training continues, so a checkpoint is durable before it is announced. */
  onCheckpoint(checkpoint: TrainerCheckpoint): Promise<void>;
  onProgress(progress: { epoch: number; loss: number }): void;
  readonly signal: AbortSignal;
}

export interface TrainerCheckpoint {
  readonly epoch: number;
  readonly loss: number;
  /** Trainer-specific, JSON-serialisable state (weights, optimiser, RNG, data position). */
  readonly state: unknown;
}

export interface TrainResult {
  /** The model artifact, JSON-serialisable, loadable by the serving gateway. */
  readonly model: unknown;
  readonly epochs: number;
  readonly loss: number;
}

export interface Trainer {
  readonly name: string;
  train(job: TrainJob): Promise<TrainResult>;
}

export type TrainerRegistry = Readonly<Record<string, Trainer>>;
