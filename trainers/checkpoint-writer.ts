import { setImmediate as nextTurn } from 'node:timers/promises';
import { sha256 } from '../storage/atomic-file';
import type { TrainJob } from './trainer';

/**
 * Event-loop turns handed over after a step while a checkpoint is being
 * written. The write is several I/O calls (the store's mkdir, open, write,
 * fsync, close, rename, and the removal of the oldest checkpoint), and each
 * continues only on a turn of the loop, which a CPU-bound training loop gives
 * up only when it yields. One turn a step made a write last ~10 steps
 * (a whole 10-step interval, so the next checkpoint waited for it); 16 turns
 * let it finish in ~5 (measured when it still went through a local file). An
 * idle turn costs ~2 µs (Node 20, this machine), so this is ~35 µs a step,
 * and only while a write is in flight.
 */
const TURNS_PER_STEP = 16;

/**
 * Writes an in-process trainer's checkpoints beside training rather than on
 * its path. The trainer hands over a snapshot (the serialised state, taken
 * synchronously, so later steps cannot change what is written) and trains on
 * while `job.onCheckpoint` stores it durably and heartbeats it.
 *
 * At most one checkpoint is in flight: the next one waits for it
 * (backpressure) instead of being queued or skipped. With an interval of I
 * steps and W steps trained while one write is in flight, a worker lost at
 * step n has stored every checkpoint up to n − I − min(W, I), so the work
 * lost is at most I + min(W, I) ≤ 2·I steps (plus the heartbeat flush, as
 * before), whatever the speed of the disk. A slow store slows training down
 * to its pace instead of letting the durable checkpoint fall behind.
 *
 * A failed write fails training at the next step. The caller must `drain()`
 * before returning and `settle()` on every way out, so no `onCheckpoint`
 * runs after the trainer has returned or thrown.
 */
export function createCheckpointWriter(job: Pick<TrainJob, 'onCheckpoint' | 'signal'>) {
  let inFlight: Promise<void> | null = null;
  // Captured at once, so a failed write is never an unhandled rejection; rethrown on the training path.
  let failure: { error: unknown } | null = null;
  const throwIfFailed = () => {
    if (failure) throw failure.error;
  };
  const settle = async () => {
    if (inFlight) await inFlight;
  };

  return {
    get writing() {
      return inFlight !== null;
    },
    throwIfFailed,

    /** Waits for the write in flight, if any, then starts writing `snapshot` as the checkpoint of `step`. */
    async submit(step: number, snapshot: string) {
      await settle();
      throwIfFailed();
      // Cancelled while the last one was stored: stop now rather than after one more store.
      job.signal.throwIfAborted();
      // The bytes go to the activity as they are: no local file written, read back and removed
      // (ten I/O calls a checkpoint, each a wake-up of libuv's pool on the training machine).
      inFlight = Promise.resolve()
        .then(() =>
          job.onCheckpoint({ step, checksum: sha256(snapshot), data: snapshot, extension: '.json' }),
        )
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => {
          inFlight = null;
        });
    },

    /** Lets the write in flight move on; call after each step while `writing`. */
    async yieldToWrite() {
      for (let i = 0; i < TURNS_PER_STEP && inFlight; i++) await nextTurn();
    },

    /** Waits for the last checkpoint to be stored; throws if any write failed. */
    async drain() {
      await settle();
      throwIfFailed();
    },

    /** Waits for the write in flight without throwing: for the way out of a training that failed. */
    settle,
  };
}
