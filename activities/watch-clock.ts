import { Context } from '@temporalio/activity';

/**
 * The time a rollout watch (activities/canary-watch.ts) reads and waits on.
 * In production it is the worker's own clock. Tests at real policy durations
 * give the watch the time-skipping test server's clock instead
 * (test/helpers/time-skipping.ts), so a week's bake passes in seconds there
 * as the workflow's own timers do.
 */
export interface WatchClock {
  /** Epoch milliseconds. */
  now(): Promise<number>;
  /**
   * Waits `ms`, reporting `details` as the activity's heartbeat often enough
   * that Temporal tells a long wait from a lost worker. Rejects when the
   * activity is cancelled.
   */
  wait(ms: number, details: unknown): Promise<void>;
}

/** The worker beats at least this often while it waits: well inside any watch's heartbeat timeout. */
const BEAT_MS = 5_000;

export const workerClock: WatchClock = {
  now: async () => Date.now(),
  async wait(ms, details) {
    const context = Context.current();
    for (let left = Math.max(0, ms); left > 0; left -= BEAT_MS) {
      context.heartbeat(details);
      // Context.sleep rejects as soon as a cancellation reaches the activity.
      await context.sleep(Math.min(left, BEAT_MS));
    }
  },
};
