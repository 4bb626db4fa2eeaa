/**
 * How the rollout's waits (canary steps, the bake) are cut into watches: one
 * activity (activities/canary-watch.ts) looks at the traffic many times and
 * returns with a verdict or at the end of its chunk, so the run's history
 * grows with the number of watches, not of looks. Pure, so the workflow and
 * the tests share it.
 */

/**
 * Polls per watch: at least a dozen, and few enough watches per wait (at most
 * ~100, a handful of history events each) that no policy's step or bake
 * length can push the run's history past its budget.
 */
export function chunkPolls(seconds: number, pollSeconds: number): number {
  return Math.max(12, Math.ceil(seconds / pollSeconds / 100));
}

/**
 * How long Temporal waits for a watch's heartbeat before it hands the watch
 * to another worker: two looks, at least 10 s and at most 10 minutes. A watch
 * that looks every 5 s is retried within 10 s of its worker's loss; one that
 * looks hourly during a week's bake within 10 minutes, long before its next
 * look would have been due.
 */
export function watchHeartbeatSeconds(pollSeconds: number): number {
  return Math.min(600, Math.max(10, 2 * pollSeconds));
}

/** The watches a wait of `seconds`, looked at every `pollSeconds`, takes at most. */
export function watchesFor(seconds: number, pollSeconds: number): number {
  const looks = Math.ceil(seconds / pollSeconds);
  return Math.ceil(looks / chunkPolls(seconds, pollSeconds));
}
