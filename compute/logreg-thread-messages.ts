import type { TrainState } from '../domain/logistic-regression';

// What the main thread (./logreg-threads) and a training thread (./logreg-thread) send each other.

export interface LogRegTask {
  readonly dataPath: string;
  readonly features: readonly string[];
  readonly label: string;
  readonly params: {
    readonly epochs: number;
    readonly learningRate: number;
    readonly l2: number;
    readonly seed: number;
    readonly stepDelayMs: number;
  };
  readonly checkpointEvery: number;
  readonly resumeFromPath: string | null;
  /**
   * Shared with the main thread: [IN_FLIGHT] is 1 from the moment a
   * snapshot is posted until the store holds it; [PAUSE] is never written,
   * only waited on with a timeout.
   */
  readonly control: SharedArrayBuffer;
}

export const IN_FLIGHT = 0;
export const PAUSE = 1;

export type LogRegThreadMessage =
  | { readonly kind: 'progress'; readonly step: number; readonly total: number; readonly loss: number }
  | { readonly kind: 'checkpoint'; readonly step: number; readonly data: string; readonly checksum: string }
  | { readonly kind: 'done'; readonly state: TrainState }
  | { readonly kind: 'failed'; readonly message: string };
