/**
 * The seam between the training activity and whatever trains the model: the
 * builtin TypeScript trainer, or any program speaking the process protocol
 * (docs/trainer-protocol.md). The activity owns data preparation, the shared
 * artifact store, heartbeats and retries; a trainer turns a training CSV,
 * hyper-parameters and an optional checkpoint into a model artifact, writing
 * checkpoints into a local folder and announcing each one.
 */
export interface TrainJob {
  /** Training rows (hold-out rows already removed), CSV with a header. */
  readonly dataPath: string;
  readonly features: readonly string[];
  readonly label: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly checkpointEvery: number;
  /** Local folder for this attempt's checkpoints. */
  readonly checkpointDir: string;
  /** Local folder for the final artifact. */
  readonly outputDir: string;
  /** A verified local copy of the checkpoint to resume from. */
  readonly resumeFrom: { readonly path: string; readonly step: number } | null;
  readonly device: 'cpu' | 'cuda';
  onProgress(progress: { step: number; total: number; metrics: Record<string, number> }): void;
  /**
   * Stores a checkpoint durably and heartbeats it. Called one at a time, in
   * step order, and the last call ends before `train` returns or throws. The
   * builtin trainer trains on (on its own thread) while a call runs but makes
   * the next call only after it ended (compute/logreg-threads.ts), so its
   * stored checkpoint is never
   * more than two intervals behind training; a process trainer's
   * announcements are queued and stored in order while the process goes on.
   */
  onCheckpoint(checkpoint: CheckpointAnnouncement): Promise<void>;
  readonly signal: AbortSignal;
}

/**
 * A checkpoint a trainer hands over: a complete file it wrote (a process
 * trainer), or the bytes themselves (an in-process trainer, which so spares
 * a file written and read back on the same machine).
 */
export type CheckpointAnnouncement = { readonly step: number; readonly checksum: string } & (
  | { readonly path: string }
  | { readonly data: string | Uint8Array; readonly extension: string }
);

export interface TrainResult {
  /** Local path of the model artifact (JSON the serving gateway can load). */
  readonly artifactPath: string;
  readonly steps: number;
  readonly metrics: Readonly<Record<string, number>>;
}

export type TrainerFailureKind = 'preempted' | 'invalid_params' | 'crashed';

/** How a trainer failed; the training activity maps each kind to its own retry budget. */
export class TrainerError extends Error {
  constructor(
    readonly kind: TrainerFailureKind,
    message: string,
    readonly stderrTail = '',
    readonly exitCode: number | null = null,
  ) {
    super(message);
    this.name = 'TrainerError';
  }
}

export interface Trainer {
  readonly name: string;
  train(job: TrainJob): Promise<TrainResult>;
}

export type TrainerRegistry = Readonly<Record<string, Trainer>>;
