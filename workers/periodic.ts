/**
 * A background task of a long-lived process (the trigger reconciler, the
 * prediction pruner): runs `task` every `everyMs` after the previous round
 * ended (rounds never overlap), reports a failed round to `onError` and goes
 * on. `stop()` waits for a round in progress.
 */
export function runEvery(
  everyMs: number,
  task: () => Promise<void>,
  onError: (err: unknown) => void,
): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | null = null;
  let round: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    round = task()
      .catch(onError)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, everyMs);
      });
  };
  timer = setTimeout(tick, everyMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await round;
    },
  };
}
